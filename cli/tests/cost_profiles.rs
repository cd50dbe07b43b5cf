//! `featgen cost --profiles DIR` computes the shares as `featgen shares` does and prices them:
//! the same rows and the same reconciliation as `featgen cost --shares` over the file that
//! `featgen shares` writes from the same directory.

mod common;

use common::{PodCpu, featgen, stderr, write_messaging_registry, write_pod_profile};
use std::path::Path;
use std::process::Output;

/// A registry with `messaging`, the article's bill, and profiles of two billed deployments
/// (three pods) in its hour: a known feature, an unknown one and unattributed CPU.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_messaging_registry(root);
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../attribution/tests/fixtures/billing/article.csv"),
        root.join("bill.csv"),
    )
    .unwrap();
    let pods = [
        ("pod-a", "messages-production", 0),
        ("pod-b", "messages-production", 1),
        ("pod-c", "users-production", 2),
    ];
    for (pod, deployment, index) in pods {
        let cpu = PodCpu {
            known_ns: 300_000_000 + index * 70_000_000,
            unknown_ns: 110_000_000,
            unattributed_ns: 130_000_000,
        };
        write_pod_profile(root, (pod, "chat", deployment), 10 * index, cpu);
    }
    dir
}

const SOURCE: [&str; 8] = [
    "--profiles",
    "profiles",
    "--registry",
    "registry",
    "--from",
    "2025-06-12T15:00:00Z",
    "--to",
    "2025-06-12 16:00:00 UTC",
];

#[test]
fn cost_from_profiles_equals_cost_from_the_shares_file() {
    let dir = setup();
    let root = dir.path();
    let mut args = vec!["shares"];
    args.extend(SOURCE);
    args.extend(["--out", "shares.ndjson"]);
    let output = featgen(root, &args);
    assert!(output.status.success(), "{}", stderr(&output));

    let from_file = featgen(
        root,
        &[
            "cost",
            "--shares",
            "shares.ndjson",
            "--billing",
            "bill.csv",
            "--summary",
            "json",
            "--out",
            "from-file.ndjson",
        ],
    );
    assert!(from_file.status.success(), "{}", stderr(&from_file));
    let mut args = vec!["cost"];
    args.extend(SOURCE);
    args.extend([
        "--billing",
        "bill.csv",
        "--summary",
        "json",
        "--out",
        "from-profiles.ndjson",
    ]);
    let from_profiles = featgen(root, &args);
    assert!(from_profiles.status.success(), "{}", stderr(&from_profiles));

    let rows = std::fs::read_to_string(root.join("from-file.ndjson")).unwrap();
    assert_eq!(
        rows,
        std::fs::read_to_string(root.join("from-profiles.ndjson")).unwrap()
    );
    // Both deployments' CPU was priced: three share rows each, plus the bill's other buckets.
    for deployment in ["messages-production", "users-production"] {
        let priced = rows
            .lines()
            .filter(|row| row.contains(deployment) && row.contains("\"bucket\":\"feature\""))
            .count();
        assert_eq!(priced, 2, "{deployment}: {rows}");
    }
    // The same reconciliation (the last line of stderr, JSON); the warnings about the unknown
    // feature come from the same code too.
    let last_line = |output: &Output| stderr(output).lines().last().unwrap_or("").to_owned();
    assert_eq!(last_line(&from_file), last_line(&from_profiles));
    assert!(
        stderr(&from_profiles).contains("warning: feature `mystery` is not in the registry"),
        "{}",
        stderr(&from_profiles)
    );
}

#[test]
fn shares_files_and_profiles_are_exclusive_and_one_is_needed() {
    let dir = setup();
    let root = dir.path();
    let both = featgen(
        root,
        &[
            "cost",
            "--shares",
            "shares.ndjson",
            "--profiles",
            "profiles",
            "--billing",
            "bill.csv",
        ],
    );
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
    assert!(
        stderr(&both).contains("cannot be used with"),
        "{}",
        stderr(&both)
    );
    // The period belongs to the profiles: with share files it is refused, not ignored.
    let period_without_profiles = featgen(
        root,
        &[
            "cost",
            "--shares",
            "shares.ndjson",
            "--from",
            "2025-06-12T15:00:00Z",
            "--billing",
            "bill.csv",
        ],
    );
    assert_eq!(period_without_profiles.status.code(), Some(2));
    assert!(stderr(&period_without_profiles).contains("cannot be used with"));
    let neither = featgen(root, &["cost", "--billing", "bill.csv"]);
    assert_eq!(neither.status.code(), Some(2));
    assert!(
        stderr(&neither).contains("--shares"),
        "{}",
        stderr(&neither)
    );
    let shares_without_input = featgen(root, &["shares", "--registry", "registry"]);
    assert_eq!(shares_without_input.status.code(), Some(2));
    assert!(
        stderr(&shares_without_input).contains("--profiles"),
        "{}",
        stderr(&shares_without_input)
    );
}
