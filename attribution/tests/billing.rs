//! Billing readers against their fixtures, with totals computed independently (stated per test),
//! and every kind of bad input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use featgen_attribution::billing::{
    Bill, BillReader, BillingError, BillingFormat, BillingOptions, CostColumn, DeploymentKey,
    SkipReason,
};
use rust_decimal::Decimal;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/billing")
        .join(name)
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn read(options: BillingOptions, files: &[PathBuf]) -> Result<Bill, BillingError> {
    let mut reader = BillReader::new(options);
    for file in files {
        reader.read_file(file)?;
    }
    reader.finish()
}

fn read_text(options: BillingOptions, name: &str, text: &str) -> Result<Bill, BillingError> {
    let mut reader = BillReader::new(options);
    reader.read(Path::new(name), text.as_bytes())?;
    reader.finish()
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

fn total(bill: &Bill) -> Decimal {
    bill.slices().map(|(_, slice)| slice.amount).sum()
}

fn focus_options(cost: Option<CostColumn>) -> BillingOptions {
    BillingOptions {
        cost,
        deployment_tag: Some("application".into()),
        ..BillingOptions::default()
    }
}

/// Expected figures from Python's `decimal` over the same CSV (`csv.DictReader`, `Tags` keys
/// stripped, `NULL` rows of the cost column left out): see the fixtures' README.
#[test]
fn focus_sample_loads_and_sums_to_the_python_totals() {
    let bill = read(focus_options(None), &[fixture("focus-1.0-sample.csv")]).unwrap();
    assert_eq!(bill.rows_read, 1_000);
    assert!(bill.skipped.is_empty());
    assert_eq!(total(&bill), dec("14.97651418586"));
    let sums = per_deployment(&bill);
    assert_eq!(sums[&(String::new(), true)], dec("-1.02348581414"));
    assert_eq!(
        sums[&("BrightPathMatrix".into(), false)],
        dec("16.00000000000")
    );
    // 949 hourly rows and 51 daily ones, spread over 24 hours each: 1,172 distinct
    // (hour, application) pairs (counted in Python).
    assert_eq!(bill.len(), 1_172);
    assert!(bill.slices().all(|(key, _)| key.currency == "USD"));

    let billed = read(
        focus_options(Some(CostColumn::BilledCost)),
        &[fixture("focus-1.0-sample.csv")],
    )
    .unwrap();
    assert_eq!(total(&billed), dec("20.52022672899"));
    let sums = per_deployment(&billed);
    assert_eq!(sums[&(String::new(), true)], dec("0.27416448666"));
    assert_eq!(
        sums[&("PowerStudioBoost".into(), false)],
        dec("0.44400000000")
    );
}

#[test]
fn focus_null_costs_are_skipped_only_when_allowed() {
    let err = read(
        focus_options(Some(CostColumn::ContractedCost)),
        &[fixture("focus-1.0-sample.csv")],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("7 billing rows cannot be read"), "{text}");
    assert!(
        text.contains("column `ContractedCost`: empty or NULL"),
        "{text}"
    );
    assert!(text.contains("--max-skipped 7"), "{text}");

    let options = BillingOptions {
        max_skipped: 7,
        ..focus_options(Some(CostColumn::ContractedCost))
    };
    let bill = read(options, &[fixture("focus-1.0-sample.csv")]).unwrap();
    assert_eq!(bill.skipped[&SkipReason::MissingValue].rows, 7);
    assert_eq!(total(&bill), dec("14.97626039326"));
}

#[test]
fn focus_tag_keys_with_stray_spaces_match() {
    // Rows tag `org` as `"org"`, `" org"` or both; Python: BilledCost of org=trey 2.13341175267.
    let options = BillingOptions {
        cost: Some(CostColumn::BilledCost),
        deployment_tag: Some("org".into()),
        ..BillingOptions::default()
    };
    let bill = read(options, &[fixture("focus-1.0-sample.csv")]).unwrap();
    assert_eq!(
        per_deployment(&bill)[&("trey".into(), false)],
        dec("2.13341175267")
    );
}

#[test]
fn a_daily_row_is_spread_over_its_hours_exactly() {
    let bill = read(BillingOptions::default(), &[fixture("article.csv")]).unwrap();
    let at = |hour: u32, deployment: &str| {
        let start = format!("2025-06-12 {hour:02}:00:00 UTC").parse().unwrap();
        bill.slices()
            .find(|(key, _)| key.start == start && key.deployment == deployment)
            .map(|(_, slice)| slice.amount)
    };
    // users-production's 1.00 daily disk: 100 cents over 24 hours, 4 each and the 4 cents
    // left to the first 4 hours (equal remainders go to the earlier hour).
    assert_eq!(at(0, "users-production"), Some(dec("0.05")));
    assert_eq!(at(3, "users-production"), Some(dec("0.05")));
    assert_eq!(at(4, "users-production"), Some(dec("0.04")));
    assert_eq!(at(23, "users-production"), Some(dec("0.04")));
    // 15:00: 0.505776 + 0.271168 + 0.04 (hand sums).
    assert_eq!(at(15, "users-production"), Some(dec("0.816944")));
    // messages-production at 15:00: 1.517328 + 0.813504 + 2.400000 / 24.
    assert_eq!(at(15, "messages-production"), Some(dec("2.430832")));
    assert_eq!(at(14, "messages-production"), Some(dec("0.100000")));
    assert_eq!(at(15, ""), Some(dec("1.500000")));
    // Everything: 1.517328 + 0.813504 + 0.505776 + 0.271168 + 2.4 + 1.00 + 1.5.
    assert_eq!(total(&bill), dec("8.007776"));
    assert!(bill.slices().all(|(key, _)| key.currency == "USD"));

    let euros = BillingOptions {
        currency: "EUR".into(),
        ..BillingOptions::default()
    };
    let bill = read(euros, &[fixture("article.csv")]).unwrap();
    assert!(bill.slices().all(|(key, _)| key.currency == "EUR"));
}

#[test]
fn gcp_net_cost_and_kube_buckets() {
    let bill = read(BillingOptions::default(), &[fixture("gcp.ndjson")]).unwrap();
    let sums = per_deployment(&bill);
    // 1.25 - 0.25 + 0.5; kube buckets by name; the storage row names no workload.
    assert_eq!(sums[&("messages-production".into(), false)], dec("1.50"));
    assert_eq!(sums[&("users-production".into(), false)], dec("0.75"));
    assert_eq!(sums[&("kube:unallocated".into(), true)], dec("0.3"));
    assert_eq!(sums[&("kube:system-overhead".into(), true)], dec("0.15"));
    assert_eq!(sums[&(String::new(), true)], dec("0.1"));
    assert_eq!(sums.len(), 5);

    let keyed = BillingOptions {
        deployment_key: DeploymentKey::Cluster,
        ..BillingOptions::default()
    };
    let sums = per_deployment(&read(keyed, &[fixture("gcp.ndjson")]).unwrap());
    assert_eq!(
        sums[&("prod/chat/messages-production".into(), false)],
        dec("1.50")
    );
}

#[test]
fn gcp_gzip_and_csv_read_the_same() {
    use std::io::Write;
    let text = std::fs::read(fixture("gcp.ndjson")).unwrap();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(&text).unwrap();
    let mut reader = BillReader::new(BillingOptions::default());
    reader
        .read(
            Path::new("gcp.ndjson.gz"),
            gzip.finish().unwrap().as_slice(),
        )
        .unwrap();
    let from_gzip = reader.finish().unwrap();
    let plain = read(BillingOptions::default(), &[fixture("gcp.ndjson")]).unwrap();
    assert_eq!(
        from_gzip.slices().collect::<Vec<_>>(),
        plain.slices().collect::<Vec<_>>()
    );

    let csv = "usage_start_time,usage_end_time,cost,currency,credits,labels\n\
        2025-06-12 15:00:00 UTC,2025-06-12 16:00:00 UTC,1.25,USD,\"[{\"\"amount\"\": -0.25}]\",\"[{\"\"key\"\": \"\"k8s-workload-name\"\", \"\"value\"\": \"\"messages-production\"\"}]\"\n";
    let bill = read_text(BillingOptions::default(), "gcp.csv", csv).unwrap();
    assert_eq!(
        per_deployment(&bill)[&("messages-production".into(), false)],
        dec("1.00")
    );
}

#[test]
fn aws_split_rows_and_their_parent() {
    let bill = read(BillingOptions::default(), &[fixture("aws-cur2.csv")]).unwrap();
    let sums = per_deployment(&bill);
    // Split + unused: 0.08 + 0.016, 0.06 + 0.012; unallocated: the untagged pod 0.02 + 0.004
    // and S3's 0.05. The instance's 0.192 is carried by its four pod rows, not billed twice.
    assert_eq!(sums[&("messages-production".into(), false)], dec("0.096"));
    assert_eq!(sums[&("users-production".into(), false)], dec("0.072"));
    assert_eq!(sums[&(String::new(), true)], dec("0.074"));
    assert_eq!(total(&bill), dec("0.242"));
    assert_eq!(bill.split_parents_dropped, 1);

    let net = BillingOptions {
        cost: Some(CostColumn::Net),
        ..BillingOptions::default()
    };
    let sums = per_deployment(&read(net, &[fixture("aws-cur2.csv")]).unwrap());
    // 0.072 + 0.0144, 0.054 + 0.0108, 0.018 + 0.0036 + 0.045.
    assert_eq!(sums[&("messages-production".into(), false)], dec("0.0864"));
    assert_eq!(sums[&("users-production".into(), false)], dec("0.0648"));
    assert_eq!(sums[&(String::new(), true)], dec("0.0666"));

    let keyed = BillingOptions {
        deployment_key: DeploymentKey::Namespace,
        ..BillingOptions::default()
    };
    let sums = per_deployment(&read(keyed, &[fixture("aws-cur2.csv")]).unwrap());
    assert_eq!(
        sums[&("chat/messages-production".into(), false)],
        dec("0.096")
    );
    assert_eq!(
        sums[&("accounts/users-production".into(), false)],
        dec("0.072")
    );
}

#[test]
fn formats_are_detected_or_forced() {
    for (name, format) in [
        ("article.csv", "article"),
        ("gcp.ndjson", "gcp"),
        ("aws-cur2.csv", "aws"),
        ("focus-1.0-sample.csv", "focus"),
    ] {
        let forced = BillingOptions {
            format: Some(format.parse::<BillingFormat>().unwrap()),
            ..BillingOptions::default()
        };
        assert_eq!(
            total(&read(forced, &[fixture(name)]).unwrap()),
            total(&read(BillingOptions::default(), &[fixture(name)]).unwrap()),
            "{name}"
        );
    }
    let wrong = BillingOptions {
        format: Some(BillingFormat::Focus),
        ..BillingOptions::default()
    };
    let err = read(wrong, &[fixture("article.csv")]).unwrap_err();
    assert_eq!(err.column.as_deref(), Some("ChargePeriodStart"));
}

const ARTICLE_HEADER: &str = "sku,description,resource,usage_start_time,usage_end_time,quantity,cost_per,total_cost,k8s_deployment\n";

fn article_with(row: &str) -> String {
    format!(
        "{ARTICLE_HEADER}a,b,cpu,2025-06-12 15:00:00 UTC,2025-06-12 16:00:00 UTC,1,1,1.00,api\n{row}\n"
    )
}

#[test]
fn a_missing_column_names_it_and_the_fix() {
    let text = "sku,usage_start_time,usage_end_time,total_cost\nx,2025-06-12 15:00:00,2025-06-12 16:00:00,1\n";
    let err = read_text(BillingOptions::default(), "bill.csv", text).unwrap_err();
    assert_eq!(err.column.as_deref(), Some("k8s_deployment"));
    assert_eq!(err.line, Some(2));
    let message = err.to_string();
    assert!(
        message.starts_with("bill.csv:2: column `k8s_deployment`: missing column"),
        "{message}"
    );
    assert!(
        message.contains("add the column `k8s_deployment`"),
        "{message}"
    );
}

#[test]
fn unreadable_rows_fail_with_file_line_column_and_fix() {
    for (row, column, reason, needle) in [
        (
            "a,b,cpu,2025-06-12 15:00:00 UTC,2025-06-12 16:00:00 UTC,1,1,\"1,50\",api",
            "total_cost",
            "unparsable_number",
            "`1,50` is not a decimal number",
        ),
        (
            "a,b,cpu,2025-06-12 25:00:00 UTC,2025-06-12 16:00:00 UTC,1,1,1.50,api",
            "usage_start_time",
            "unparsable_time",
            "invalid time `2025-06-12 25:00:00 UTC`: hour, minute or second out of range",
        ),
        (
            "a,b,cpu,2025-06-12 16:00:00 UTC,2025-06-12 15:00:00 UTC,1,1,1.50,api",
            "usage_end_time",
            "end_before_start",
            "ends at 2025-06-12 15:00:00 UTC before its start",
        ),
        (
            // A typo in a year (found by fuzzing billing_read) once spread this row over nine
            // million hours and ran out of memory.
            "a,b,cpu,1012-06-12 15:00:00 UTC,2025-06-12 16:00:00 UTC,1,1,1.50,api",
            "usage_end_time",
            "period_too_long",
            "covers 1012-06-12 15:00:00 UTC to 2025-06-12 16:00:00 UTC, more than the 366 days",
        ),
        (
            "a,b,cpu,2025-06-12 15:00:00 UTC,2025-06-12 16:00:00 UTC,1,1,NULL,api",
            "total_cost",
            "missing_value",
            "empty or NULL",
        ),
    ] {
        let err = read_text(BillingOptions::default(), "bill.csv", &article_with(row)).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&format!(
                "1 {reason} rows, first bill.csv:3: column `{column}`: {needle}"
            )),
            "{message}"
        );
        assert!(message.contains("--max-skipped 1"), "{message}");
        let allowed = BillingOptions {
            max_skipped: 1,
            ..BillingOptions::default()
        };
        let bill = read_text(allowed, "bill.csv", &article_with(row)).unwrap();
        assert_eq!(bill.rows_read, 2);
        assert_eq!(total(&bill), dec("1.00"));
    }
}

#[test]
fn a_currency_change_within_a_deployment_hour_is_an_error() {
    let header =
        "ChargePeriodStart,ChargePeriodEnd,BillingCurrency,BilledCost,EffectiveCost,Tags\n";
    let text = format!(
        "{header}2025-06-12 15:00:00,2025-06-12 16:00:00,USD,1,1,\"{{\"\"deployment\"\": \"\"api\"\"}}\"\n\
         2025-06-12 15:00:00,2025-06-12 16:00:00,EUR,1,1,\"{{\"\"deployment\"\": \"\"api\"\"}}\"\n"
    );
    let err = read_text(BillingOptions::default(), "focus.csv", &text).unwrap_err();
    assert_eq!(
        (err.line, err.column.as_deref()),
        (Some(3), Some("BillingCurrency"))
    );
    assert!(
        err.problem.contains("EUR here, USD at focus.csv:2"),
        "{err}"
    );

    // Different deployments (or unallocated rows) may be billed in different currencies: one
    // result per currency.
    let text = format!(
        "{header}2025-06-12 15:00:00,2025-06-12 16:00:00,USD,1,1,\"{{\"\"deployment\"\": \"\"api\"\"}}\"\n\
         2025-06-12 15:00:00,2025-06-12 16:00:00,EUR,2,2,\"{{\"\"deployment\"\": \"\"web\"\"}}\"\n\
         2025-06-12 15:00:00,2025-06-12 16:00:00,EUR,3,3,NULL\n\
         2025-06-12 15:00:00,2025-06-12 16:00:00,USD,4,4,NULL\n"
    );
    let bill = read_text(BillingOptions::default(), "focus.csv", &text).unwrap();
    assert_eq!(bill.len(), 4);
}

#[test]
fn slices_come_in_key_order_whatever_the_rows_order() {
    // Rows out of order (a later hour first, `web` before `api`, EUR before USD): the bill
    // iterates by (start, deployment, currency), the order `allocate` merges in.
    let header =
        "ChargePeriodStart,ChargePeriodEnd,BillingCurrency,BilledCost,EffectiveCost,Tags\n";
    let row = |hour: u32, currency: &str, amount: &str, deployment: &str| {
        format!(
            "2025-06-12 {hour}:00:00,2025-06-12 {}:00:00,{currency},{amount},{amount},\"{{\"\"deployment\"\": \"\"{deployment}\"\"}}\"\n",
            hour + 1
        )
    };
    let text = [
        header.to_owned(),
        row(16, "USD", "1", "web"),
        row(15, "EUR", "2", "web"),
        row(15, "USD", "3", "api"),
        row(16, "USD", "4", "api"),
        row(15, "USD", "5", "api"),
        "2025-06-12 15:00:00,2025-06-12 16:00:00,USD,6,6,NULL\n".to_owned(),
        "2025-06-12 15:00:00,2025-06-12 16:00:00,EUR,7,7,NULL\n".to_owned(),
    ]
    .concat();
    let bill = read_text(BillingOptions::default(), "focus.csv", &text).unwrap();
    let slices: Vec<(u32, String, String, Decimal, bool)> = bill
        .slices()
        .map(|(key, slice)| {
            let hour = ((key.start.0 - 1_749_686_400) / 3_600) as u32;
            (
                hour,
                key.deployment,
                key.currency,
                slice.amount,
                slice.unallocated,
            )
        })
        .collect();
    let expected = [
        (15, "", "EUR", "7", true),
        (15, "", "USD", "6", true),
        (15, "api", "USD", "8", false),
        (15, "web", "EUR", "2", false),
        (16, "api", "USD", "4", false),
        (16, "web", "USD", "1", false),
    ]
    .map(|(hour, deployment, currency, amount, unallocated)| {
        (
            hour,
            deployment.to_owned(),
            currency.to_owned(),
            dec(amount),
            unallocated,
        )
    });
    assert_eq!(slices, expected);
    assert_eq!(bill.len(), 6);
}

#[test]
fn mixed_formats_in_one_file_are_an_error() {
    let focus = r#"{"ChargePeriodStart":"2025-06-12 15:00:00","ChargePeriodEnd":"2025-06-12 16:00:00","BillingCurrency":"USD","BilledCost":1,"EffectiveCost":1}"#;
    let gcp = r#"{"usage_start_time":"2025-06-12T15:00:00Z","usage_end_time":"2025-06-12T16:00:00Z","cost":1,"currency":"USD"}"#;
    let err = read_text(
        BillingOptions::default(),
        "mixed.ndjson",
        &format!("{focus}\n{gcp}\n"),
    )
    .unwrap_err();
    assert_eq!(err.line, Some(2));
    assert!(
        err.problem
            .contains("this row is a gcp row, the file began as focus"),
        "{err}"
    );

    // Two CSV exports concatenated: the second header is a row.
    let text = format!(
        "{}{ARTICLE_HEADER}",
        article_with("a,b,cpu,2025-06-12 15:00:00 UTC,2025-06-12 16:00:00 UTC,1,1,1.00,api")
    );
    let err = read_text(BillingOptions::default(), "twice.csv", &text).unwrap_err();
    assert_eq!(err.line, Some(4));
    assert!(err.problem.contains("article header"), "{err}");
}

#[test]
fn options_that_do_not_apply_are_refused() {
    let net = BillingOptions {
        cost: Some(CostColumn::Net),
        ..BillingOptions::default()
    };
    let err = read(net, &[fixture("focus-1.0-sample.csv")]).unwrap_err();
    assert!(
        err.problem.contains("--cost net applies to GCP and AWS"),
        "{err}"
    );
    let listed = BillingOptions {
        cost: Some(CostColumn::ListCost),
        ..BillingOptions::default()
    };
    assert!(read(listed, &[fixture("gcp.ndjson")]).is_err());
}

#[test]
fn unknown_columns_and_broken_files_are_errors() {
    let err = read_text(BillingOptions::default(), "x.csv", "a,b\n1,2\n").unwrap_err();
    assert!(
        err.problem
            .contains("no billing format has these columns: a, b"),
        "{err}"
    );
    let gcp = r#"{"usage_start_time":"2025-06-12T15:00:00Z","usage_end_time":"2025-06-12T16:00:00Z","cost":1,"currency":"USD"}"#;
    let err = read_text(
        BillingOptions::default(),
        "x.ndjson",
        &format!("{gcp}\n{{broken\n"),
    )
    .unwrap_err();
    assert_eq!(err.line, Some(2));
    assert!(err.problem.contains("not a JSON object"), "{err}");
    let err = read_text(
        BillingOptions::default(),
        "x.csv",
        &format!("{ARTICLE_HEADER}1,2\n"),
    )
    .unwrap_err();
    assert!(err.problem.contains("invalid CSV"), "{err}");
}
