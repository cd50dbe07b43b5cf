//! `featgen report` end to end: rows in, one HTML file out, atomically; errors name the row.

mod common;

use common::featgen;

/// A cost row of deployment `api` in the hour from 15:00, as `featgen cost` writes it.
fn row(bucket: &str, feature: &str, cost: &str) -> String {
    let (feature, endpoint, id) = if bucket == "feature" {
        (format!("\"{feature}\""), format!("\"{feature}.get\""), 1)
    } else {
        ("null".into(), "null".into(), -1)
    };
    format!(
        r#"{{"start_time":"2025-06-12 15:00:00 UTC","end_time":"2025-06-12 16:00:00 UTC","deployment":"api","feature":{feature},"endpoint":{endpoint},"percentage_of_cpu":0.5,"feature_id":{id},"feature_group":null,"team":null,"tier":null,"cpu_ns":1000000000,"samples":100,"requests":null,"cost":"{cost}","currency":"USD","bucket":"{bucket}","cost_per_request":null,"cost_if_equal_per_request":null}}"#
    )
}

#[test]
fn writes_one_page_and_names_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let costs = [
        row("feature", "messaging", "1.25"),
        row("unattributed", "", "0.75"),
    ]
    .join("\n");
    std::fs::write(dir.path().join("costs.ndjson"), costs + "\n").unwrap();

    let out = featgen(
        dir.path(),
        &[
            "report",
            "--costs",
            "costs.ndjson",
            "--out",
            "site/report.html",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(dir.path().join("site/report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(r#""total":["2","#), "the bill, 1.25 + 0.75");

    // A malformed row: exit 2, the file, line and column named, the old page untouched.
    let bad = format!(
        "{}\n{}\n",
        row("feature", "messaging", "1.25"),
        row("feature", "x", "one")
    );
    std::fs::write(dir.path().join("bad.ndjson"), bad).unwrap();
    let out = featgen(
        dir.path(),
        &[
            "report",
            "--costs",
            "bad.ndjson",
            "--out",
            "site/report.html",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.ndjson: line 2, column"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("site/report.html")).unwrap(),
        html
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("site"))
        .unwrap()
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
}
