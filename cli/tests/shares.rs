//! `featgen shares` as users run it: output formats, warnings and exit codes.

mod common;

use common::{PodCpu, featgen, stderr, write_messaging_registry, write_pod_profile};
use featgen_attribution::ShareRow;

/// A registry with `messaging` (id 1), and two profiles of one deployment in the article's hour.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_messaging_registry(root);
    for (index, pod) in ["pod-a", "pod-b"].into_iter().enumerate() {
        let cpu = PodCpu {
            known_ns: 300_000_000,
            unknown_ns: 100_000_000,
            unattributed_ns: 100_000_000,
        };
        let series = ("messages", "messages-production");
        write_pod_profile(root, (pod, series.0, series.1), 10 * index as i64, cpu);
    }
    dir
}

const HOUR: [&str; 4] = [
    "--from",
    "2025-06-12T15:00:00Z",
    "--to",
    "2025-06-12 16:00:00 UTC",
];

#[test]
fn writes_ndjson_rows_and_warns_about_unknown_features() {
    let dir = setup();
    let mut args = vec!["shares", "--profiles", "profiles", "--registry", "registry"];
    args.extend(HOUR);
    let output = featgen(dir.path(), &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows: Vec<ShareRow> = String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let summary: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.feature.as_deref(),
                r.feature_id,
                r.cpu_ns,
                r.percentage_of_cpu,
                r.samples,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (None, -1, 200_000_000, 0.2, 20),
            (Some("messaging"), 1, 600_000_000, 0.6, 60),
            (Some("mystery"), -1, 200_000_000, 0.2, 20),
        ]
    );
    assert_eq!(rows[1].team.as_deref(), Some("msgs-team"));
    assert!(rows.iter().all(|r| r.deployment == "messages-production"
        && r.start_time.to_string() == "2025-06-12 15:00:00 UTC"
        && r.end_time.to_string() == "2025-06-12 16:00:00 UTC"));
    let err = stderr(&output);
    assert!(
        err.contains("warning: feature `mystery` is not in the registry"),
        "{err}"
    );
    assert!(err.contains("3 row(s)"), "{err}");
}

#[test]
fn writes_other_formats_to_a_file_and_days_when_asked() {
    let dir = setup();
    let output = featgen(
        dir.path(),
        &[
            "shares",
            "--profiles",
            "profiles",
            "--registry",
            "registry",
            "--step",
            "1d",
            "--from",
            "2025-06-12",
            "--out",
            "shares.csv",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let csv = std::fs::read_to_string(dir.path().join("shares.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "start_time,end_time,deployment,feature,endpoint,percentage_of_cpu,feature_id,feature_group,team,tier,cpu_ns,samples,requests"
    );
    assert!(
        lines.next().unwrap().starts_with(
            "2025-06-12 00:00:00 UTC,2025-06-13 00:00:00 UTC,messages-production,,,0.2,-1,"
        ),
        "{csv}"
    );
}

#[test]
fn usage_and_input_errors_exit_2_and_write_nothing() {
    let dir = setup();
    let root = dir.path();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "shares",
            "--profiles",
            "profiles",
            "--registry",
            "registry",
            "--out",
            "out.ndjson",
        ];
        args.extend(HOUR);
        args.extend(extra);
        featgen(root, &args)
    };
    // A truncated profile: the run fails naming it, and no output is written.
    let good = std::fs::read(root.join("profiles/pod-a/p.pb.gz")).unwrap();
    std::fs::write(root.join("profiles/pod-a/q.pb.gz"), &good[..good.len() / 2]).unwrap();
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("q.pb.gz: corrupt or truncated gzip"),
        "{}",
        stderr(&output)
    );
    assert!(!root.join("out.ndjson").exists());
    // Skipped on request, and counted.
    let output = run(&["--skip-damaged"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("skipped 1 file(s): corrupt or truncated gzip"),
        "{}",
        stderr(&output)
    );
    // A period off the step grid, an unknown step, a missing directory.
    let output = featgen(
        root,
        &[
            "shares",
            "--profiles",
            "profiles",
            "--from",
            "2025-06-12T15:30:00Z",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not on a 1h step boundary"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        featgen(root, &["shares", "--profiles", "profiles", "--step", "1w"])
            .status
            .code(),
        Some(2)
    );
    let output = featgen(
        root,
        &["shares", "--profiles", "nowhere", "--registry", "registry"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot read nowhere"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_empty_window_is_an_explicit_empty_result() {
    let dir = setup();
    let output = featgen(
        dir.path(),
        &[
            "shares",
            "--profiles",
            "profiles",
            "--registry",
            "registry",
            "--from",
            "2025-06-12T18:00:00Z",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    assert!(stderr(&output).contains("0 row(s) for 2025-06-12 18:00:00 UTC to 2025-06-12 19:00:00 UTC: 2 CPU profile(s) read of 2 file(s) under profiles, 2 outside the period"), "{}", stderr(&output));
}
