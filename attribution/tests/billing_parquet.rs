//! Parquet billing exports, written by DuckDB (the test venv's) from the CSV and NDJSON
//! fixtures: every format reads to the same bill as its text form, as strings and as typed
//! columns (timestamps, DECIMAL, DOUBLE, BigQuery's nested `labels` and `credits`), and bad
//! files fail naming the file, row group, row and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;

use featgen_attribution::billing::{
    Bill, BillReader, BillingError, BillingFormat, BillingOptions, SkipReason,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/billing")
        .join(name)
}

fn read(options: &BillingOptions, file: &Path) -> Result<Bill, BillingError> {
    let mut reader = BillReader::new(options.clone());
    reader.read_file(file)?;
    reader.finish()
}

/// Runs `COPY (select) TO 'out' (FORMAT parquet ...)` in DuckDB, one thread so that row order
/// and row groups are fixed.
fn duckdb_parquet(select: &str, out: &Path, options: &str) {
    let sql = format!(
        "SET threads = 1; COPY ({select}) TO '{}' (FORMAT parquet{options})",
        out.display()
    );
    featgen_tests::run_ok(featgen_tests::python_command().args([
        "-c",
        "import duckdb, sys; duckdb.connect().execute(sys.argv[1])",
        &sql,
    ]));
}

/// Sum of the slices per (deployment, unallocated), over all steps.
fn per_deployment(bill: &Bill) -> BTreeMap<(String, bool), Decimal> {
    let mut sums = BTreeMap::new();
    for (key, slice) in bill.slices() {
        *sums
            .entry((key.deployment.clone(), slice.unallocated))
            .or_insert(Decimal::ZERO) += slice.amount;
    }
    sums
}

fn focus_options() -> BillingOptions {
    BillingOptions {
        deployment_tag: Some("application".into()),
        ..BillingOptions::default()
    }
}

#[test]
fn every_format_reads_from_parquet_as_from_text() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("article.csv", BillingOptions::default()),
        ("aws-cur2.csv", BillingOptions::default()),
        ("focus-1.0-sample.csv", focus_options()),
    ];
    for (name, options) in &cases {
        let text = read(options, &fixture(name)).unwrap();
        let source = fixture(name);
        for (kind, select) in [
            (
                "strings",
                format!(
                    "SELECT * FROM read_csv('{}', all_varchar = true)",
                    source.display()
                ),
            ),
            (
                "typed",
                format!("SELECT * FROM read_csv('{}')", source.display()),
            ),
        ] {
            let parquet = dir.path().join(format!("{name}.{kind}.parquet"));
            duckdb_parquet(&select, &parquet, "");
            let bill = read(options, &parquet).unwrap_or_else(|err| panic!("{name} {kind}: {err}"));
            if kind == "strings" {
                assert_eq!(
                    bill.slices().collect::<Vec<_>>(),
                    text.slices().collect::<Vec<_>>(),
                    "{name} as {kind}"
                );
            } else {
                // DuckDB types the amounts DOUBLE: read through their shortest text, as JSON
                // numbers are, they lose trailing zeros (1.00 is 1), so a daily row is spread
                // at a coarser precision. Each deployment's total is the same.
                assert_eq!(
                    per_deployment(&bill),
                    per_deployment(&text),
                    "{name} as {kind}"
                );
            }
            assert_eq!(bill.rows_read, text.rows_read, "{name} as {kind}");
            assert_eq!(bill.skipped, text.skipped, "{name} as {kind}");
            assert_eq!(bill.split_parents_dropped, text.split_parents_dropped);
        }
    }

    // BigQuery's export: `labels` and `credits` are lists of structs, `service` and `sku`
    // structs, times TIMESTAMPTZ, cost DOUBLE.
    let gcp = dir.path().join("gcp.parquet");
    duckdb_parquet(
        &format!(
            "SELECT * FROM read_json('{}')",
            fixture("gcp.ndjson").display()
        ),
        &gcp,
        "",
    );
    let text = read(&BillingOptions::default(), &fixture("gcp.ndjson")).unwrap();
    assert_eq!(
        read(&BillingOptions::default(), &gcp)
            .unwrap()
            .slices()
            .collect::<Vec<_>>(),
        text.slices().collect::<Vec<_>>()
    );
}

#[test]
fn typed_article_rows_with_decimal_money_and_utc_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("article.parquet");
    duckdb_parquet(
        &format!(
            "SELECT sku, usage_start_time::TIMESTAMPTZ AS usage_start_time, \
             usage_end_time::TIMESTAMPTZ AS usage_end_time, total_cost::DECIMAL(18, 6) AS total_cost, \
             k8s_deployment FROM read_csv('{}', all_varchar = true)",
            fixture("article.csv").display()
        ),
        &parquet,
        "",
    );
    let text = read(&BillingOptions::default(), &fixture("article.csv")).unwrap();
    let bill = read(&BillingOptions::default(), &parquet).unwrap();
    // DECIMAL(18, 6) gives every amount six places: the same totals, and the same slices
    // where the text had six places too (users-production's daily 1.00 is spread at six
    // places instead of two).
    assert_eq!(per_deployment(&bill), per_deployment(&text));
    let hour = featgen_attribution::UtcTime(1_749_740_400);
    let slices: std::collections::BTreeMap<_, _> = bill.slices().collect();
    for (key, slice) in text
        .slices()
        .filter(|(key, _)| key.deployment != "users-production")
    {
        assert_eq!(slices[&key].amount, slice.amount, "{key:?}");
    }
    let spread = bill
        .slices()
        .find(|(key, _)| key.deployment == "users-production" && key.start != hour)
        .unwrap();
    assert_eq!(spread.1.amount.scale(), 6);
}

#[test]
fn bad_parquet_names_file_row_group_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let article = fixture("article.csv");

    let missing = dir.path().join("missing.parquet");
    duckdb_parquet(
        &format!(
            "SELECT * EXCLUDE (total_cost) FROM read_csv('{}')",
            article.display()
        ),
        &missing,
        "",
    );
    let forced = BillingOptions {
        format: Some(BillingFormat::Article),
        ..BillingOptions::default()
    };
    let error = read(&forced, &missing).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "{}: row group 0, row 1: column `total_cost`: missing column in a article export",
            missing.display()
        )),
        "{error}"
    );
    let error = read(&BillingOptions::default(), &missing)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no billing format has these columns"),
        "{error}"
    );

    // A start stored as an integer: a wrong type, counted as an unreadable time and, with
    // --max-skipped 0, an error naming where.
    let integer = dir.path().join("integer-start.parquet");
    duckdb_parquet(
        &format!(
            "SELECT * REPLACE (epoch(usage_start_time)::BIGINT AS usage_start_time) FROM read_csv('{}')",
            article.display()
        ),
        &integer,
        "",
    );
    let error = read(&BillingOptions::default(), &integer)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!(
            "7 unparsable_time rows, first {}: row group 0, row 1: column `usage_start_time`: a Parquet integer value is not a time",
            integer.display()
        )),
        "{error}"
    );
    assert!(error.contains("--max-skipped"), "{error}");

    // 7 rows × 700 in row groups of 2,048: the unparsable amount of row 4,500 is in row
    // group 2, and the rows are counted across the groups.
    let bad_row = dir.path().join("bad-row.parquet");
    duckdb_parquet(
        &format!(
            "SELECT * EXCLUDE (place) REPLACE (CASE WHEN place = 4500 THEN 'twelve' \
             ELSE total_cost::VARCHAR END AS total_cost) FROM \
             (SELECT a.*, row_number() OVER (ORDER BY n, a.sku, a.k8s_deployment, a.usage_start_time) AS place \
              FROM read_csv('{}') a, range(700) r(n)) ORDER BY place",
            article.display()
        ),
        &bad_row,
        ", ROW_GROUP_SIZE 2048",
    );
    let lenient = BillingOptions {
        max_skipped: 1,
        ..BillingOptions::default()
    };
    let bill = read(&lenient, &bad_row).unwrap();
    assert_eq!(bill.rows_read, 4_900);
    let skipped = &bill.skipped[&SkipReason::UnparsableNumber];
    assert_eq!(skipped.rows, 1);
    assert_eq!(
        skipped.first,
        format!(
            "{}: row group 2, row 4500: column `total_cost`: `twelve` is not a decimal number",
            bad_row.display()
        )
    );

    // Only Snappy (the common default) is read: another codec is named, with the fix, at the
    // first column the format reads (columns it does not read are never decoded).
    let zstd = dir.path().join("zstd.parquet");
    duckdb_parquet(
        &format!("SELECT * FROM read_csv('{}')", article.display()),
        &zstd,
        ", COMPRESSION zstd",
    );
    let error = read(&BillingOptions::default(), &zstd)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!(
            "{}: row group 0: column `usage_start_time`: compressed with ZSTD",
            zstd.display()
        )) && error.contains("COMPRESSION snappy"),
        "{error}"
    );

    let broken = dir.path().join("broken.parquet");
    std::fs::write(&broken, b"PAR1 not really").unwrap();
    let error = read(&BillingOptions::default(), &broken)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!(
            "{}: not a readable Parquet file",
            broken.display()
        )),
        "{error}"
    );
}
