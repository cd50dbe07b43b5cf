//! `featgen cost` end to end: rows and reconciliation on the article's bill, byte-identical
//! reruns, the JSON summary, and bad input that fails without writing a partial file.

mod common;

use common::featgen;
use std::path::{Path, PathBuf};

fn billing(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../attribution/tests/fixtures/billing")
        .join(name)
}

const SHARES: &str = r#"{"start_time":"2025-06-12 15:00:00 UTC","end_time":"2025-06-12 16:00:00 UTC","deployment":"messages-production","feature":"messaging","endpoint":"create_message","percentage_of_cpu":0.6,"feature_id":1,"feature_group":"chat","team":"msgs-team","tier":"S","cpu_ns":600,"samples":60,"requests":300}
{"start_time":"2025-06-12 15:00:00 UTC","end_time":"2025-06-12 16:00:00 UTC","deployment":"messages-production","feature":null,"endpoint":null,"percentage_of_cpu":0.1,"feature_id":-1,"feature_group":null,"team":null,"tier":null,"cpu_ns":100,"samples":10,"requests":null}
{"start_time":"2025-06-12 15:00:00 UTC","end_time":"2025-06-12 16:00:00 UTC","deployment":"messages-production","feature":"messaging","endpoint":"list_messages","percentage_of_cpu":0.3,"feature_id":1,"feature_group":"chat","team":"msgs-team","tier":"S","cpu_ns":300,"samples":30,"requests":600}
"#;

fn shares_file(dir: &Path) -> String {
    let path = dir.join("shares.ndjson");
    std::fs::write(&path, SHARES).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn prices_the_article_bill_and_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let shares = shares_file(dir.path());
    let out = dir.path().join("cost.ndjson");
    let bill = billing("article.csv");
    let args = [
        "cost",
        "--shares",
        &shares,
        "--billing",
        bill.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let output = featgen(dir.path(), &args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("USD: billed 8.007776 = feature 2.187749 + unattributed 0.243083 + unprofiled 4.076944 + unallocated 1.500000 (difference 0.000000)"),
        "{stderr}"
    );
    let rows = std::fs::read_to_string(&out).unwrap();
    assert_eq!(rows.lines().count(), 51);
    let create: serde_json::Value = rows
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|row| row["endpoint"] == "create_message")
        .unwrap();
    assert_eq!(create["cost"], "1.458499");
    assert_eq!(create["bucket"], "feature");
    assert_eq!(create["cost_if_equal_per_request"], "0.810277");

    // Same input, same bytes.
    let first = std::fs::read(&out).unwrap();
    assert_eq!(featgen(dir.path(), &args).status.code(), Some(0));
    assert_eq!(std::fs::read(&out).unwrap(), first);
}

#[test]
fn json_rows_come_with_a_json_summary() {
    let dir = tempfile::tempdir().unwrap();
    let shares = shares_file(dir.path());
    let bill = billing("gcp.ndjson");
    let output = featgen(
        dir.path(),
        &[
            "cost",
            "--shares",
            &shares,
            "--billing",
            bill.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(output.status.code(), Some(0));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows.len(), 7);
    let summary: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap();
    // 1.50 + 0.75 + 0.3 + 0.15 + 0.1 (see the billing tests).
    assert_eq!(summary["currencies"][0]["billed"], "2.80");
    assert_eq!(summary["currencies"][0]["difference"], "0.00");
    assert_eq!(summary["currencies"][0]["unallocated"], "0.55");
}

#[test]
fn bad_billing_fails_without_a_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let shares = shares_file(dir.path());
    let bad = dir.path().join("bill.csv");
    std::fs::write(
        &bad,
        "sku,description,resource,usage_start_time,usage_end_time,quantity,cost_per,total_cost,k8s_deployment\n\
         a,b,cpu,2025-06-12 15:00:00 UTC,2025-06-12 16:00:00 UTC,1,1,$1.50,messages-production\n",
    )
    .unwrap();
    let out = dir.path().join("cost.ndjson");
    let output = featgen(
        dir.path(),
        &[
            "cost",
            "--shares",
            &shares,
            "--billing",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bill.csv:2: column `total_cost`: `$1.50` is not a decimal number"),
        "{stderr}"
    );
    assert!(stderr.contains("--max-skipped 1"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "only the inputs remain"
    );

    let output = featgen(
        dir.path(),
        &[
            "cost",
            "--shares",
            &shares,
            "--billing",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--max-skipped",
            "1",
        ],
    );
    assert_eq!(output.status.code(), Some(0));
    // Nothing billed: the profiled hour is a warning, never a cost.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1 unparsable_number"), "{stderr}");
    assert!(
        stderr.contains("warning: 1 profiled deployment-hours have no billing"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "");
}

#[test]
fn every_row_format_carries_the_same_cents() {
    use featgen_attribution::CostRow;
    use featgen_attribution::format::read_all;
    let dir = tempfile::tempdir().unwrap();
    let shares = shares_file(dir.path());
    let bill = billing("article.csv");
    let mut costs = Vec::new();
    for name in ["cost.ndjson", "cost.csv", "cost.parquet", "cost.json"] {
        let out = dir.path().join(name);
        let output = featgen(
            dir.path(),
            &[
                "cost",
                "--shares",
                &shares,
                "--billing",
                bill.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let rows: Vec<CostRow> = read_all(&out, None).unwrap();
        costs.push(
            rows.iter()
                .map(|row| {
                    (
                        row.deployment.clone(),
                        row.bucket,
                        row.endpoint.clone(),
                        row.cost,
                    )
                })
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(costs[0].len(), 51);
    assert!(costs.windows(2).all(|pair| pair[0] == pair[1]));

    // Shares read back from CSV price the same.
    let csv_shares = dir.path().join("shares.csv");
    let rows: Vec<featgen_attribution::ShareRow> = read_all(Path::new(&shares), None).unwrap();
    featgen_attribution::format::write_rows(
        &rows,
        featgen_attribution::format::Format::Csv,
        Some(&csv_shares),
    )
    .unwrap();
    let out = dir.path().join("again.ndjson");
    let output = featgen(
        dir.path(),
        &[
            "cost",
            "--shares",
            csv_shares.to_str().unwrap(),
            "--billing",
            bill.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(dir.path().join("cost.ndjson")).unwrap()
    );
}

#[test]
fn share_files_out_of_order_are_sorted_first() {
    let dir = tempfile::tempdir().unwrap();
    let later = shares_file(dir.path());
    let earlier = dir.path().join("earlier.ndjson");
    std::fs::write(
        &earlier,
        SHARES
            .replace("15:00:00", "14:00:00")
            .replace("16:00:00", "15:00:00"),
    )
    .unwrap();
    let together = dir.path().join("together.ndjson");
    std::fs::write(
        &together,
        format!("{}{SHARES}", std::fs::read_to_string(&earlier).unwrap()),
    )
    .unwrap();
    let bill = billing("article.csv");
    let run = |shares: &[&str], out: &str| {
        let out = dir.path().join(out);
        let mut args = vec![
            "cost",
            "--billing",
            bill.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--shares",
        ];
        args.extend_from_slice(shares);
        let output = featgen(dir.path(), &args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::read(out).unwrap()
    };
    // Streamed (one file in order) and sorted (the later file first) give the same bytes.
    let streamed = run(&[together.to_str().unwrap()], "streamed.ndjson");
    let sorted = run(&[&later, earlier.to_str().unwrap()], "sorted.ndjson");
    assert_eq!(streamed, sorted);
    assert_eq!(
        String::from_utf8(sorted)
            .unwrap()
            .matches("create_message")
            .count(),
        2
    );
}
