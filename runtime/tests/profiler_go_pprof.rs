//! The local directory's files read by Go's own `go tool pprof`, the reader the design promises:
//! `-tags` must list every label of the route, and `-top` must parse the stacks of both sample
//! types (CPU by default, and the completed calls).
#![cfg(all(feature = "profiler", target_os = "linux"))]

#[path = "fixtures/profiler/support.rs"]
mod support;

use featgen::profiler::Profiler;
use std::process::Command;
use std::time::Duration;
use support::*;

/// `go tool pprof ARGS`; `scripts/test` installs Go (Debian's `golang-go`) when it is missing.
fn go_pprof(args: &[&str]) -> String {
    let output = Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!("`go tool pprof` cannot run ({err}); run `scripts/test`, which installs Go")
        });
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "go tool pprof {args:?} failed\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

#[test]
fn go_tool_pprof_reads_the_labels_and_stacks() {
    let _serial = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let profiler = Profiler::builder()
        .frequency_hz(1000)
        .interval(Duration::from_millis(500))
        .service_name("go-pprof")
        .local_dir(dir.path())
        .start()
        .unwrap();
    workload(Duration::from_millis(400), Duration::from_millis(100));
    let stats = profiler.stop();
    assert_conserved(&stats);

    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no profile written: {stats:#?}");
    let paths: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();

    let mut args = vec!["-symbolize=none", "-tags"];
    args.extend(&paths);
    let tags = go_pprof(&args);
    for expected in [
        "endpoint:",
        "send_message",
        "feature:",
        "messaging",
        "feature_group:",
        "chat",
        "team:",
        "chat-team",
        "tier:",
        "tier0",
        // The stable id, and the series label that makes each file stand alone.
        "feature_id:",
        "service_name:",
        "go-pprof",
    ] {
        assert!(
            tags.contains(expected),
            "`{expected}` missing from go tool pprof -tags:\n{tags}"
        );
    }

    let mut args = vec!["-symbolize=none", "-top", "-nodecount=5"];
    args.extend(&paths);
    let top = go_pprof(&args);
    assert!(top.contains("Type: cpu"), "{top}");

    // The second sample type: the workload's one completed call of its route.
    let mut args = vec!["-symbolize=none", "-sample_index=requests", "-top"];
    args.extend(&paths);
    let top = go_pprof(&args);
    assert!(top.contains("Type: requests"), "{top}");
    assert!(
        top.lines().any(|line| {
            let columns: Vec<_> = line.split_whitespace().collect();
            columns.first() == Some(&"1")
                && columns.get(1) == Some(&"100%")
                && line.ends_with("[featgen: completed calls]")
        }),
        "{top}"
    );
}
