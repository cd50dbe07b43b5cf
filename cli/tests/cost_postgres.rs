//! `featgen cost --postgres` against the throwaway PostgreSQL of `scripts/test`
//! (`$FEATGEN_TEST_PG`): the rows streamed into `fact_feature_cost` are the rows of `--out`,
//! a re-run replaces its slices, unsorted share files (a second, sorted attempt) leave no rows
//! of the first, and a failed write leaves the table as it was.

mod common;

use common::{featgen, stderr};
use std::path::{Path, PathBuf};
use std::process::Output;

use featgen_attribution::postgres::{self, Client, PgOptions};
use featgen_tests::PostgresDatabase;

/// Every row of `fact_feature_cost` in `db`, as [`key`] writes it, sorted.
fn cost_rows(db: &PostgresDatabase) -> Vec<String> {
    let mut rows: Vec<String> = connect(&db.conninfo())
        .query(
            "SELECT json_build_object('start_time', to_char(start_time AT TIME ZONE 'UTC', \
             'YYYY-MM-DD HH24:MI:SS \"UTC\"'), 'deployment', deployment, 'currency', currency, \
             'bucket', bucket, 'feature_id', feature_id, 'endpoint', endpoint, 'cpu_ns', cpu_ns, \
             'requests', requests, 'cost', cost::text, 'cost_per_request', \
             cost_per_request::text, 'cost_if_equal_per_request', \
             cost_if_equal_per_request::text)::text FROM fact_feature_cost",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| key(&serde_json::from_str(row.get::<_, &str>(0)).unwrap()))
        .collect();
    rows.sort();
    rows
}

fn connect(conninfo: &str) -> Client {
    postgres::connect(conninfo, &PgOptions::default()).unwrap()
}

fn article_bill() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../attribution/tests/fixtures/billing/article.csv")
}

/// A share row of `messages-production` at `hour` (15 is the article's), with `cpu_ns` CPU.
fn share(hour: u32, feature_id: i64, endpoint: Option<&str>, cpu_ns: u64) -> String {
    let (feature, endpoint_json, requests) = match endpoint {
        Some(endpoint) => ("\"messaging\"", format!("\"{endpoint}\""), "3"),
        None => ("null", "null".to_owned(), "null"),
    };
    format!(
        r#"{{"start_time":"2025-06-12 {hour}:00:00 UTC","end_time":"2025-06-12 {}:00:00 UTC","deployment":"messages-production","feature":{feature},"endpoint":{endpoint_json},"percentage_of_cpu":0.5,"feature_id":{feature_id},"feature_group":null,"team":null,"tier":null,"cpu_ns":{cpu_ns},"samples":1,"requests":{requests}}}"#,
        hour + 1
    )
}

/// Runs `featgen cost` on `shares` (NDJSON lines) and the article's bill, with `--postgres`
/// and `--out`; returns the run and the rows of `--out`, keyed as the table dump is.
fn cost(db: &PostgresDatabase, dir: &Path, shares: &[String]) -> (Output, Vec<serde_json::Value>) {
    let shares_path = dir.join("shares.ndjson");
    std::fs::write(&shares_path, shares.join("\n") + "\n").unwrap();
    let out = dir.join("cost.ndjson");
    let _ = std::fs::remove_file(&out);
    let output = featgen(
        dir,
        &[
            "cost",
            "--shares",
            shares_path.to_str().unwrap(),
            "--billing",
            article_bill().to_str().unwrap(),
            "--postgres",
            &db.conninfo(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let rows = std::fs::read_to_string(&out)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (output, rows)
}

/// A cost row's key, CPU, requests and money as one line; decimals without trailing zeros
/// (PostgreSQL's NUMERIC(38, 18) pads them, featgen writes the bill's places).
fn key(row: &serde_json::Value) -> String {
    let money = |field: &str| match row[field].as_str() {
        Some(text) if text.contains('.') => {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
        Some(text) => text.to_owned(),
        None => "null".to_owned(),
    };
    format!(
        "{} {} {} {} {} {} {} {} {} {} {}",
        row["start_time"],
        row["deployment"],
        row["currency"],
        row["bucket"],
        row["feature_id"],
        row["endpoint"],
        row["cpu_ns"],
        row["requests"],
        money("cost"),
        money("cost_per_request"),
        money("cost_if_equal_per_request"),
    )
}

/// The rows of an `--out` file, as [`key`] writes them, sorted.
fn keyed(rows: &[serde_json::Value]) -> Vec<String> {
    let mut keys: Vec<String> = rows.iter().map(key).collect();
    keys.sort();
    keys
}

#[test]
fn cost_rows_stream_into_postgres_and_a_rerun_replaces_them() {
    let db = PostgresDatabase::with_generated_tables();
    let dir = tempfile::tempdir().unwrap();
    let shares = [
        share(15, 1, Some("create_message"), 600),
        share(15, -1, None, 100),
        share(15, 1, Some("list_messages"), 300),
    ]
    .map(String::from);
    let (output, rows) = cost(&db, dir.path(), &shares);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output)
            .contains("fact_feature_cost: 49 slices replaced (0 rows deleted, 51 inserted)"),
        "{}",
        stderr(&output)
    );
    assert_eq!(rows.len(), 51);
    let stored = cost_rows(&db);
    assert_eq!(stored, keyed(&rows));
    let total = db.query("SELECT sum(cost)::text FROM fact_feature_cost");
    assert_eq!(total.trim().parse::<f64>().unwrap(), 8.007776);

    // The same run again: its slices replaced, not added to.
    let (output, _) = cost(&db, dir.path(), &shares);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("(51 rows deleted, 51 inserted)"),
        "{}",
        stderr(&output)
    );
    assert_eq!(cost_rows(&db), stored);
}

#[test]
fn unsorted_shares_are_priced_again_sorted_and_only_that_attempt_is_kept() {
    let db = PostgresDatabase::with_generated_tables();
    let dir = tempfile::tempdir().unwrap();
    // 16:00 before 15:00: the first attempt prices 16:00, then finds the order broken.
    let shares = [
        share(16, 1, Some("create_message"), 5),
        share(15, 1, Some("create_message"), 600),
        share(15, -1, None, 100),
    ]
    .map(String::from);
    let (output, rows) = cost(&db, dir.path(), &shares);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The bill's 49 slices, two rows at 15:00: 50 rows, each once.
    assert_eq!(rows.len(), 50);
    assert!(
        stderr(&output).contains("(0 rows deleted, 50 inserted)"),
        "{}",
        stderr(&output)
    );
    assert_eq!(cost_rows(&db), keyed(&rows));
}

#[test]
fn a_failed_write_leaves_the_table_as_it_was() {
    let db = PostgresDatabase::with_generated_tables();
    let dir = tempfile::tempdir().unwrap();
    let good = [share(15, 1, Some("create_message"), 600)].map(String::from);
    let (output, _) = cost(&db, dir.path(), &good);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let before = cost_rows(&db);
    assert_eq!(before.len(), 49);
    // A feature id that dim_feature does not have: the foreign key fails at COPY, after the
    // slices were deleted; the whole transaction rolls back.
    let bad = [
        share(15, 1, Some("create_message"), 600),
        share(15, 999_999, Some("gone"), 1),
    ]
    .map(String::from);
    let (output, _) = cost(&db, dir.path(), &bad);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("PostgreSQL (fact_feature_cost): COPY failed")
            && stderr(&output).contains("violates foreign key constraint"),
        "{}",
        stderr(&output)
    );
    assert!(!dir.path().join("cost.ndjson").exists(), "no partial --out");
    assert_eq!(cost_rows(&db), before);
}
