//! The warehouse allocation (`generated/sql/<dialect>/attribution.sql`, rendered by `featgen build`) in real DuckDB,
//! SQLite and PostgreSQL gives exactly the rows and digits of `featgen cost` on the same shares
//! and bill: a synthetic month-corner with every bucket, credits, two currencies and scales 0 to
//! 11, amounts and CPU near SQLite's 2^63 bound, and the article's billing rows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use featgen_attribution::billing::{Bill, BillReader, BillingOptions, Slice, SliceKey};
use featgen_attribution::cost::{allocate, sort_shares};
use featgen_attribution::format::{Format, write_rows};
use featgen_attribution::{CostRow, ShareRow, UNATTRIBUTED_ID, UtcTime};
use featgen_tests::{PostgresDatabase, dbt_python, python_command, run_ok, workspace_root};
use rust_decimal::Decimal;

/// (start, deployment, currency, bucket, feature_id, endpoint) → (cost, per request, naive).
type Priced = BTreeMap<(i64, String, String, String, i64, String), [Option<Decimal>; 3]>;

const HOUR: i64 = 1_749_740_400;

/// A small deterministic generator (no dependency, same numbers everywhere).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn synthetic() -> (Bill, Vec<ShareRow>) {
    let mut random = Lcg(7);
    let deployments = ["api", "search", "web", "worker"];
    let mut bill = Bill::new(3_600);
    let mut shares = Vec::new();
    for hour in 0..6 {
        let start = HOUR + hour * 3_600;
        for (index, deployment) in deployments.iter().enumerate() {
            let currency = if index == 3 { "EUR" } else { "USD" };
            // Some deployment-hours are not billed (a warning) or not profiled (unprofiled).
            if random.next(6) != 0 {
                let scale = random.next(12) as u32;
                let mantissa = random.next(5_000_000_000) as i64 - 500_000_000;
                bill.insert(
                    SliceKey {
                        start: UtcTime(start),
                        deployment: (*deployment).into(),
                        currency: currency.into(),
                    },
                    Slice {
                        amount: Decimal::new(mantissa, scale),
                        unallocated: false,
                    },
                );
            }
            if random.next(5) == 0 {
                continue;
            }
            for feature in 0..random.next(6) + 1 {
                let named = feature > 0;
                let endpoint = format!("endpoint_{}", random.next(3));
                shares.push(ShareRow {
                    start_time: UtcTime(start),
                    end_time: UtcTime(start + 3_600),
                    deployment: (*deployment).into(),
                    feature: named.then(|| format!("feature_{feature}").into()),
                    endpoint: named.then(|| endpoint.as_str().into()),
                    percentage_of_cpu: 0.0,
                    feature_id: if named {
                        feature as i64
                    } else {
                        UNATTRIBUTED_ID
                    },
                    feature_group: named.then(|| "group".into()),
                    team: named.then(|| "team".into()),
                    tier: None,
                    // Equal CPU now and then, so that ties are broken by key order.
                    cpu_ns: [1_000, 1_000, random.next(4_000_000_000_000) + 1]
                        [random.next(3) as usize],
                    samples: 1,
                    requests: match random.next(4) {
                        0 => None,
                        1 => Some(0),
                        _ => Some(random.next(10_000_000)),
                    },
                });
            }
        }
        for bucket in ["", "kube:unallocated"] {
            bill.insert(
                SliceKey {
                    start: UtcTime(start),
                    deployment: bucket.into(),
                    currency: "USD".into(),
                },
                Slice {
                    amount: Decimal::new(random.next(1_000_000) as i64, 4),
                    unallocated: true,
                },
            );
        }
    }
    // One (step, deployment, feature_id, endpoint) key per row, as the contract says.
    shares.sort_by(|a, b| {
        (a.start_time, &a.deployment, a.feature_id, &a.endpoint).cmp(&(
            b.start_time,
            &b.deployment,
            b.feature_id,
            &b.endpoint,
        ))
    });
    shares.dedup_by(|a, b| {
        (a.start_time, &a.deployment, a.feature_id, &a.endpoint)
            == (b.start_time, &b.deployment, b.feature_id, &b.endpoint)
    });
    (bill, shares)
}

/// Amounts and CPU close to what SQLite's 64-bit integers can hold (|amount_units| and each
/// slice's CPU below 2^63), where every units × cpu_ns takes SQLite's long path: the largest
/// amounts at scales 0, 6 and 18, a credit, CPU sums just under 2^63 with equal weights (ties),
/// and request counts around 2^40.
fn near_the_bound() -> (Bill, Vec<ShareRow>) {
    let mut bill = Bill::new(3_600);
    let amounts = [
        Decimal::new(9_223_372_036_854_775_807, 0),
        Decimal::new(-9_223_372_036_854_775_807, 6),
        Decimal::new(9_223_372_036_854_775_806, 18),
        Decimal::new(7_777_777_777_777_777_777, 2),
    ];
    let cpu: [&[u64]; 4] = [
        &[1 << 61, 1 << 61, (1 << 62) - 1],
        &[(1 << 62) + 12_345, 1 << 61, (1 << 61) - 999_999],
        &[3, 3, 3],
        &[1, (1 << 62) + (1 << 61), 1],
    ];
    let mut shares = Vec::new();
    for (index, (amount, cpu)) in amounts.iter().zip(cpu).enumerate() {
        let deployment = format!("deployment_{index}");
        bill.insert(
            SliceKey {
                start: UtcTime(HOUR),
                deployment: deployment.clone(),
                // One currency each: featgen's per-currency totals are decimals of 96 bits,
                // which the sum of these amounts at 18 places would not fit.
                currency: ["USD", "EUR", "JPY", "GBP"][index].into(),
            },
            Slice {
                amount: *amount,
                unallocated: false,
            },
        );
        for (feature, &cpu_ns) in cpu.iter().enumerate() {
            shares.push(ShareRow {
                start_time: UtcTime(HOUR),
                end_time: UtcTime(HOUR + 3_600),
                deployment: deployment.as_str().into(),
                feature: Some(format!("feature_{feature}").into()),
                endpoint: Some("endpoint".into()),
                percentage_of_cpu: 0.0,
                feature_id: feature as i64,
                feature_group: None,
                team: None,
                tier: None,
                cpu_ns,
                samples: 1,
                // Above 10^9, so that mod × 10^10 overflows 64 bits (SQLite's long path), and
                // cost_per_request stays below DuckDB's 10^10 (its DECIMAL(38, 28)).
                requests: Some([1 << 40, (1 << 41) + 3, 999_999_999_937][feature]),
            });
        }
    }
    (bill, shares)
}

fn article() -> (Bill, Vec<ShareRow>) {
    let mut reader = BillReader::new(BillingOptions::default());
    reader
        .read_file(&workspace_root().join("attribution/tests/fixtures/billing/article.csv"))
        .unwrap();
    let bill = reader.finish().unwrap();
    let row = |endpoint: Option<&str>, cpu_ns, requests| ShareRow {
        start_time: UtcTime(HOUR),
        end_time: UtcTime(HOUR + 3_600),
        deployment: "messages-production".into(),
        feature: endpoint.map(|_| "messaging".into()),
        endpoint: endpoint.map(Into::into),
        percentage_of_cpu: 0.0,
        feature_id: if endpoint.is_some() {
            1
        } else {
            UNATTRIBUTED_ID
        },
        feature_group: None,
        team: None,
        tier: None,
        cpu_ns,
        samples: 0,
        requests,
    };
    let shares = vec![
        row(Some("create_message"), 600, Some(300)),
        row(Some("list_messages"), 300, Some(600)),
        row(None, 100, None),
    ];
    (bill, shares)
}

fn expected(bill: &Bill, shares: &[ShareRow]) -> Priced {
    let mut shares = shares.to_vec();
    sort_shares(&mut shares);
    let mut rows: Vec<CostRow> = Vec::new();
    let summary = allocate(bill, shares, |row| {
        rows.push(row);
        Ok(())
    })
    .unwrap();
    assert!(summary.balanced());
    rows.into_iter()
        .map(|row| {
            (
                (
                    row.start_time.unix(),
                    row.deployment.into(),
                    row.currency.into(),
                    row.bucket.name().to_owned(),
                    row.feature_id,
                    row.endpoint.map(String::from).unwrap_or_default(),
                ),
                [
                    Some(row.cost),
                    row.cost_per_request,
                    row.cost_if_equal_per_request,
                ],
            )
        })
        .collect()
}

/// Writes the share rows and the hourly billing table as CSV.
fn inputs(dir: &Path, bill: &Bill, shares: &[ShareRow]) -> (PathBuf, PathBuf) {
    let shares_csv = dir.join("shares.csv");
    write_rows(shares, Format::Csv, Some(&shares_csv)).unwrap();
    let billing_csv = dir.join("billing_hourly.csv");
    bill.write_hourly_csv(&billing_csv).unwrap();
    (shares_csv, billing_csv)
}

fn parse(json: &str) -> Priced {
    let rows: Vec<Vec<serde_json::Value>> =
        serde_json::from_str(json.trim()).unwrap_or_else(|err| panic!("{err}: {json}"));
    let decimal =
        |value: &serde_json::Value| value.as_str().map(|text| text.parse::<Decimal>().unwrap());
    rows.into_iter()
        .map(|row| {
            (
                (
                    row[0].as_i64().unwrap(),
                    row[1].as_str().unwrap_or("").to_owned(),
                    row[2].as_str().unwrap().to_owned(),
                    row[3].as_str().unwrap().to_owned(),
                    row[4].as_i64().unwrap(),
                    row[5].as_str().unwrap_or("").to_owned(),
                ),
                [decimal(&row[6]), decimal(&row[7]), decimal(&row[8])],
            )
        })
        .collect()
}

/// Runs `generated/sql/<engine>/attribution.sql` in DuckDB or SQLite (`attribution_sql.py`).
fn embedded(engine: &str, dir: &Path, bill: &Bill, shares: &[ShareRow]) -> Priced {
    let (shares_csv, billing_csv) = inputs(dir, bill, shares);
    let output = run_ok(
        python_command()
            .arg(workspace_root().join("tests/engines/attribution_sql.py"))
            .arg(engine)
            .arg(workspace_root().join(format!("generated/sql/{engine}/attribution.sql")))
            .arg(shares_csv)
            .arg(billing_csv),
    );
    parse(&output)
}

fn postgres(dir: &Path, bill: &Bill, shares: &[ShareRow]) -> Priced {
    let (shares_csv, billing_csv) = inputs(dir, bill, shares);
    let db = PostgresDatabase::empty();
    let setup = format!(
        "SET TimeZone = 'UTC';
         CREATE TABLE fact_cpu_share (start_time timestamptz, end_time timestamptz, deployment text,
             feature text, endpoint text, percentage_of_cpu double precision, feature_id bigint,
             feature_group text, team text, tier text, cpu_ns bigint, samples bigint, requests bigint);
         CREATE TABLE billing_hourly (start_time timestamptz, end_time timestamptz, deployment text,
             currency text, amount numeric, amount_units numeric(38, 0), amount_scale integer,
             unallocated boolean);
         \\copy fact_cpu_share FROM '{}' WITH (FORMAT csv, HEADER true)
         \\copy billing_hourly FROM '{}' WITH (FORMAT csv, HEADER true, FORCE_NOT_NULL (deployment))
         \\i {}
         SELECT coalesce(json_agg(json_build_array(extract(epoch FROM start_time)::bigint, deployment,
             currency, bucket, feature_id, endpoint, cost::text, cost_per_request::text,
             cost_if_equal_per_request::text, cpu_ns, requests)), '[]') FROM feature_cost;",
        shares_csv.display(),
        billing_csv.display(),
        workspace_root().join("generated/sql/postgres/attribution.sql").display()
    );
    let script = dir.join("run.sql");
    std::fs::write(&script, setup).unwrap();
    let output = db.run_file(&script);
    parse(output.lines().last().unwrap_or("[]"))
}

#[test]
fn the_warehouse_sql_prices_exactly_like_featgen_cost() {
    for (name, (bill, shares)) in [
        ("synthetic", synthetic()),
        ("near 2^63", near_the_bound()),
        ("article", article()),
    ] {
        let want = expected(&bill, &shares);
        assert!(want.len() > 3, "{name}: a real test");
        let dir = tempfile::tempdir().unwrap();
        for (engine, got) in [
            ("duckdb", embedded("duckdb", dir.path(), &bill, &shares)),
            ("sqlite", embedded("sqlite", dir.path(), &bill, &shares)),
            ("postgres", postgres(dir.path(), &bill, &shares)),
        ] {
            let differences = differences(&want, &got, engine);
            assert!(
                differences.is_empty(),
                "{name} in {engine}: {} differences:\n{}",
                differences.len(),
                differences.join("\n")
            );
        }
    }
}

/// Differences between featgen's rows and an engine's, one line each.
fn differences(want: &Priced, got: &Priced, engine: &str) -> Vec<String> {
    want.iter()
        .filter(|(key, value)| got.get(*key) != Some(*value))
        .map(|(key, value)| format!("{key:?}: featgen {value:?}, {engine} {:?}", got.get(key)))
        .chain(
            got.keys()
                .filter(|key| !want.contains_key(*key))
                .map(|key| format!("{key:?}: only in {engine}")),
        )
        .collect()
}

#[test]
fn the_dbt_package_models_exactly_featgen_cost_and_its_tests_hold() {
    let package = workspace_root().join("generated/dbt/featgen_attribution");
    for (name, (bill, shares)) in [("synthetic", synthetic()), ("article", article())] {
        let want = expected(&bill, &shares);
        let dir = tempfile::tempdir().unwrap();
        let (shares_csv, billing_csv) = inputs(dir.path(), &bill, &shares);
        let output = run_ok(
            python_command()
                .arg(workspace_root().join("tests/engines/dbt_package.py"))
                .arg(&package)
                .arg(shares_csv)
                .arg(billing_csv),
        );
        let got = parse(&output);
        let differences = differences(&want, &got, "dbt model");
        assert!(
            differences.is_empty(),
            "{name}: {} differences:\n{}",
            differences.len(),
            differences.join("\n")
        );
    }
}

/// The synthetic bill's shares with names the repository's dimensions have (the dbt package
/// tests the relationships of `feature_group` and `team`).
fn with_known_names((bill, mut shares): (Bill, Vec<ShareRow>)) -> (Bill, Vec<ShareRow>) {
    for row in &mut shares {
        if row.feature.is_some() {
            row.feature_group = Some("chat".into());
            row.team = Some("msgs-team".into());
        }
    }
    (bill, shares)
}

/// The results of one dbt run: (node name, resource type, status, failures, message).
type DbtResults = Vec<(String, String, String, Option<u64>, Option<String>)>;

/// dbt itself (`scripts/requirements-dbt.txt`, the venv `.venv-dbt`) builds the package in
/// DuckDB (`tests/engines/run_dbt.py`): the model's rows are `featgen cost`'s, its 17 tests pass,
/// and after one unit is moved between two slices the reconciliation test fails on both.
#[test]
fn real_dbt_builds_the_package_into_featgen_costs_and_its_reconciliation_catches_a_moved_unit() {
    let dir = tempfile::tempdir().unwrap();
    let datasets = [
        ("synthetic", with_known_names(synthetic())),
        ("article", article()),
    ];
    let work = dir.path().join("dbt");
    let mut command = Command::new(dbt_python());
    command
        .arg(workspace_root().join("tests/engines/run_dbt.py"))
        .arg(workspace_root().join("generated/dbt/featgen_attribution"))
        .arg(workspace_root().join("generated/sql/duckdb/dimensions.sql"))
        .arg(&work);
    for (name, (bill, shares)) in &datasets {
        let input = dir.path().join(name);
        std::fs::create_dir(&input).unwrap();
        let (shares_csv, billing_csv) = inputs(&input, bill, shares);
        command.arg(shares_csv).arg(billing_csv);
    }
    // dbt's own log is the output to read when this fails.
    run_ok(&mut command);
    let results: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(work.join("results.json")).unwrap()).unwrap();
    assert_eq!(results.len(), datasets.len());
    for ((name, (bill, shares)), result) in datasets.iter().zip(&results) {
        let runs =
            |run: &str| -> DbtResults { serde_json::from_value(result[run].clone()).unwrap() };

        // dbt build: the model and its 17 tests, every one passing.
        let build = runs("build");
        let kinds = |kind: &str| build.iter().filter(|node| node.1 == kind).count();
        assert_eq!(
            (kinds("model"), kinds("test"), build.len()),
            (1, 17, 18),
            "{name}: {build:#?}"
        );
        assert!(
            build
                .iter()
                .all(|node| node.2 == "success" || node.2 == "pass"),
            "{name}: {build:#?}"
        );

        // Its table is featgen's rows, to the digit.
        let want = expected(bill, shares);
        let got = parse(&result["rows"].to_string());
        let differences = differences(&want, &got, "dbt build");
        assert!(
            differences.is_empty(),
            "{name}: {} differences:\n{}",
            differences.len(),
            differences.join("\n")
        );

        // One unit moved between two slices: the reconciliation test fails on exactly those
        // two, and every other test still passes.
        let moved = runs("moved");
        assert_eq!(moved.len(), 17, "{name}: {moved:#?}");
        assert!(
            moved.iter().any(|node| node.0 == "reconciliation"),
            "{name}: {moved:#?}"
        );
        for node in &moved {
            if node.0 == "reconciliation" {
                assert_eq!(
                    (node.2.as_str(), node.3),
                    ("fail", Some(2)),
                    "{name}: {node:?}"
                );
            } else {
                assert_eq!(node.2, "pass", "{name}: {node:?}");
            }
        }
    }
}

#[test]
fn the_bigquery_attribution_parses_in_sqlglot() {
    let output = run_ok(
        python_command()
            .arg(workspace_root().join("tests/engines/sql_engine.py"))
            .arg("bigquery")
            .arg(workspace_root().join("generated/sql/bigquery/attribution.sql")),
    );
    let parsed: serde_json::Value = serde_json::from_str(&output).unwrap();
    assert_eq!(
        parsed["statements"],
        serde_json::json!(["Create"]),
        "{output}"
    );
}

#[test]
fn sqlite_refuses_an_amount_past_its_integers_rather_than_round_it() {
    let (article_bill, shares) = article();
    let mut slices: Vec<(SliceKey, Slice)> = article_bill.slices().collect();
    let (_, slice) = slices
        .iter_mut()
        .find(|(_, slice)| !slice.unallocated)
        .unwrap();
    // 2^63 units: SQLite stores it as a REAL, which has lost the last digits.
    slice.amount = Decimal::from_i128_with_scale(1 << 63, 0);
    let mut bill = Bill::new(article_bill.step);
    for (key, slice) in slices {
        bill.insert(key, slice);
    }
    let dir = tempfile::tempdir().unwrap();
    let (shares_csv, billing_csv) = inputs(dir.path(), &bill, &shares);
    let output = python_command()
        .arg(workspace_root().join("tests/engines/attribution_sql.py"))
        .arg("sqlite")
        .arg(workspace_root().join("generated/sql/sqlite/attribution.sql"))
        .arg(shares_csv)
        .arg(billing_csv)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("integer overflow"),
        "SQLite must fail with an integer overflow: {stderr}"
    );
}
