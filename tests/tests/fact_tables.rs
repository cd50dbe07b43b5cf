//! The attribution fact tables in real engines: the DDL of `featgen build` runs (twice) in
//! SQLite, DuckDB and PostgreSQL and parses as BigQuery in sqlglot, and the files that
//! `featgen shares` and `featgen cost` write (NDJSON, JSON, CSV, Parquet) load into the fact
//! tables of DuckDB and SQLite with every value intact.

use std::path::{Path, PathBuf};
use std::process::Command;

use featgen_attribution::format::{self, Format, Kind, Row};
use featgen_attribution::{Bucket, CostRow, ShareRow, UNATTRIBUTED_ID, UtcTime};
use featgen_tests::{build, python_command, run_ok, run_sql, workspace_root};
use serde_json::Value;

/// Builds the evolve fixture's v1 into `dir`; returns (dimensions.sql, facts.sql) of `dialect`.
fn sql_files(dir: &Path, dialect: &str) -> [PathBuf; 2] {
    let registry = dir.join("registry.yaml");
    std::fs::copy(
        workspace_root().join("tests/fixtures/evolve/v1.yaml"),
        &registry,
    )
    .unwrap();
    let generated = dir.join("generated");
    build(&registry, &generated, "features");
    let sql = generated.join("sql").join(dialect);
    [sql.join("dimensions.sql"), sql.join("facts.sql")]
}

/// The id `dim_feature` gives `name`, from a dump of the dimension tables.
fn feature_id(dump: &Value, name: &str) -> i64 {
    dump["dim_feature"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == name)
        .unwrap_or_else(|| panic!("no feature {name}"))["feature_id"]
        .as_i64()
        .unwrap()
}

fn share_rows(messaging: i64) -> Vec<ShareRow> {
    let start = UtcTime(1_749_740_400);
    let end = UtcTime(1_749_744_000);
    vec![
        ShareRow {
            start_time: start,
            end_time: end,
            deployment: "messages-production".into(),
            feature: Some("messaging".into()),
            endpoint: Some("create_message, \"quoted\"".into()),
            percentage_of_cpu: 0.1 + 11.0 / 7.0 - 1.0,
            feature_id: messaging,
            feature_group: Some("chat".into()),
            team: Some("msgs-team".into()),
            tier: Some("S".into()),
            cpu_ns: 1_028_815_280_630,
            samples: 102_881,
            requests: Some(3_400_101),
        },
        ShareRow {
            start_time: start,
            end_time: end,
            deployment: "messages-production".into(),
            feature: None,
            endpoint: None,
            percentage_of_cpu: 1.0 - (0.1 + 11.0 / 7.0 - 1.0),
            feature_id: UNATTRIBUTED_ID,
            feature_group: None,
            team: None,
            tier: None,
            cpu_ns: i64::MAX as u64,
            samples: 0,
            requests: None,
        },
    ]
}

fn cost_rows(messaging: i64) -> Vec<CostRow> {
    share_rows(messaging)
        .into_iter()
        .zip([
            ("12.340", Bucket::Feature, Some("0.000003629300000001")),
            ("99999999.999999999999", Bucket::Unattributed, None),
        ])
        .map(|(share, (cost, bucket, per))| CostRow {
            start_time: share.start_time,
            end_time: share.end_time,
            deployment: share.deployment,
            feature: share.feature,
            endpoint: share.endpoint,
            percentage_of_cpu: share.percentage_of_cpu,
            feature_id: share.feature_id,
            feature_group: share.feature_group,
            team: share.team,
            tier: share.tier,
            cpu_ns: share.cpu_ns,
            samples: share.samples,
            requests: share.requests,
            cost: cost.parse().unwrap(),
            currency: "USD".into(),
            bucket,
            cost_per_request: per.map(|p| p.parse().unwrap()),
            cost_if_equal_per_request: per.map(|_| "-0.5".parse().unwrap()),
        })
        .chain(std::iter::once(CostRow {
            // A bill that names no deployment: an empty string, which must not load as null.
            deployment: "".into(),
            feature: None,
            endpoint: None,
            percentage_of_cpu: 1.0,
            feature_id: UNATTRIBUTED_ID,
            feature_group: None,
            team: None,
            tier: None,
            cpu_ns: 0,
            samples: 0,
            requests: None,
            cost: "0.01".parse().unwrap(),
            bucket: Bucket::Unallocated,
            cost_per_request: None,
            cost_if_equal_per_request: None,
            start_time: UtcTime(1_749_740_400),
            end_time: UtcTime(1_749_744_000),
            currency: "USD".into(),
        }))
        .collect()
}

/// Rows as the loader dumps them: values in column order, decimals normalized, sorted.
fn expected<R: Row>(rows: &[R]) -> Vec<Value> {
    let mut out: Vec<Value> = rows
        .iter()
        .map(|row| {
            let object = serde_json::to_value(row).unwrap();
            Value::Array(
                R::COLUMNS
                    .iter()
                    .map(|column| match (&object[column.name], column.kind) {
                        (Value::String(text), Kind::Decimal) => Value::String(
                            text.parse::<rust_decimal::Decimal>()
                                .unwrap()
                                .normalize()
                                .to_string(),
                        ),
                        (value, _) => value.clone(),
                    })
                    .collect(),
            )
        })
        .collect();
    out.sort_by_key(Value::to_string);
    out
}

fn sorted(rows: &Value) -> Vec<Value> {
    let mut rows = rows.as_array().unwrap().clone();
    rows.sort_by_key(Value::to_string);
    rows
}

#[test]
fn featgen_files_load_into_the_fact_tables_of_duckdb_and_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    for engine in ["duckdb", "sqlite"] {
        let [dimensions, facts] = sql_files(dir.path(), engine);
        let messaging = feature_id(
            &run_sql(engine, std::slice::from_ref(&dimensions)),
            "messaging",
        );
        let shares = share_rows(messaging);
        let costs = cost_rows(messaging);
        for format in Format::ALL {
            let share_file = dir.path().join(format!("shares.{format}"));
            let cost_file = dir.path().join(format!("costs.{format}"));
            format::write_rows(&shares, format, Some(&share_file)).unwrap();
            format::write_rows(&costs, format, Some(&cost_file)).unwrap();
            let db = dir.path().join(format!("{engine}-{format}.db"));
            let mut command = python_command();
            command
                .arg(workspace_root().join("tests/engines/load_facts.py"))
                .arg(engine)
                .arg(&db)
                // Twice: the DDL is idempotent.
                .args([&dimensions, &facts, &facts])
                .arg("--")
                .arg(format!("fact_cpu_share={}:{format}", share_file.display()))
                .arg(format!(
                    "fact_feature_cost={}:{format}",
                    cost_file.display()
                ));
            let dump: Value = serde_json::from_str(&run_ok(&mut command)).unwrap();
            assert_eq!(
                sorted(&dump["fact_cpu_share"]),
                expected(&shares),
                "{engine} {format}"
            );
            assert_eq!(
                sorted(&dump["fact_feature_cost"]),
                expected(&costs),
                "{engine} {format}"
            );
        }
    }
}

#[test]
fn fact_ddl_runs_twice_in_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let [dimensions, facts] = sql_files(dir.path(), "postgres");
    // run_sql executes every file with psql (ON_ERROR_STOP) in a fresh database.
    let dump = run_sql("postgres", &[dimensions, facts.clone(), facts]);
    assert_eq!(feature_id(&dump, "unknown"), -1);
}

#[test]
fn bigquery_fact_ddl_parses_as_bigquery() {
    let dir = tempfile::tempdir().unwrap();
    let [_, facts] = sql_files(dir.path(), "bigquery");
    let mut command: Command = python_command();
    command
        .arg(workspace_root().join("tests/engines/sql_engine.py"))
        .arg("bigquery")
        .arg(&facts);
    let parsed: Value = serde_json::from_str(&run_ok(&mut command)).unwrap();
    assert_eq!(
        parsed["statements"],
        serde_json::json!(["Create", "Create"])
    );
}
