//! The report in a real browser: Debian's Chromium, headless, driven by playwright-core
//! (`report/tests/browser/check.mjs`). Fails, never skips, when node, playwright-core or
//! Chromium is missing (`scripts/test` installs them). Screenshots land in
//! `target/tmp/report-browser/`.

mod chromium;
mod synthetic;

use std::collections::BTreeMap;
use std::path::Path;

use chromium::{artifacts, run_check};
use featgen_attribution::{Bucket, CostRow};
use featgen_report::read::RowFiles;
use featgen_report::{Options, render};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::json;
use synthetic::Fleet;

/// To the cent, as the page shows it (without thousands separators).
fn cents(value: Decimal) -> String {
    format!(
        "{:.2}",
        value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    )
}

/// What the pie and the area chart list for `rows` grouped by `name`: every name, and the
/// buckets that hold money.
fn legend(rows: &[&CostRow], name: impl Fn(&CostRow) -> String) -> Vec<String> {
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    for row in rows {
        let key = match row.bucket {
            Bucket::Feature => name(row),
            bucket => bucket.name().to_string(),
        };
        *sums.entry(key).or_default() += row.cost;
    }
    sums.into_iter()
        .filter(|(_, cost)| *cost > Decimal::ZERO)
        .map(|(name, _)| name)
        .collect()
}

/// A feature name that would run script if it ever became markup.
const HOSTILE: &str = r#"svc001-<img src=x onerror="window.__pwned=1">"#;

#[test]
fn the_report_in_chromium() {
    let fleet = Fleet {
        start: 1_749_686_400, // 2025-06-12 00:00:00 UTC
        hours: 48,
        services: 2,
        deployments: 4,
        endpoints_per_service: 6,
        features_per_service: 3,
        regression_at: Some(24),
    };
    // A hostile feature name: it must show as text, never become markup.
    let mut rows = fleet.cost_rows();
    for row in &mut rows {
        if row.feature.as_deref() == Some("svc001-feature2") {
            row.feature = Some(HOSTILE.into());
        }
    }
    let dir = artifacts("report-browser");
    let costs = dir.join("costs.ndjson");
    let ndjson: String = rows
        .iter()
        .map(|row| serde_json::to_string(row).unwrap() + "\n")
        .collect();
    std::fs::write(&costs, ndjson).unwrap();
    let html = render(
        &RowFiles {
            costs: vec![costs],
            shares: Vec::new(),
        },
        &Options::default(),
    )
    .unwrap();
    let report = dir.join("report.html");
    std::fs::write(&report, &html).unwrap();

    let all: Vec<&CostRow> = rows.iter().collect();
    let total: Decimal = rows.iter().map(|r| r.cost).sum();
    let feature = |r: &CostRow| r.feature.as_deref().unwrap().to_owned();
    let mut deployments: Vec<String> = rows.iter().map(|r| r.deployment.to_string()).collect();
    deployments.sort();
    deployments.dedup();
    // A real deployment, not the `kube:unallocated` bucket that sorts first.
    let index = deployments
        .iter()
        .position(|d| d.starts_with("svc"))
        .unwrap();
    let chosen = deployments[index].clone();
    let of_chosen: Vec<&CostRow> = rows.iter().filter(|r| r.deployment == chosen).collect();
    let mut groups: BTreeMap<String, Decimal> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.bucket == Bucket::Feature) {
        *groups
            .entry(row.feature_group.as_deref().unwrap().to_owned())
            .or_default() += row.cost;
    }
    let largest_group = groups
        .iter()
        .max_by_key(|(_, cost)| **cost)
        .unwrap()
        .0
        .clone();
    let expected = json!({
        "echarts": Path::new(env!("CARGO_MANIFEST_DIR")).join("vendor/echarts.min.js"),
        "vendorReadme": Path::new(env!("CARGO_MANIFEST_DIR")).join("vendor/README.md"),
        "total": cents(total),
        "totalExact": total.round_dp(4).normalize().to_string(),
        "pieLegend": legend(&all, feature),
        "areaLegend": legend(&all, feature),
        "sunburstTop": legend(&all, |r| r.feature_group.as_deref().unwrap().to_owned()),
        "largestGroup": largest_group,
        "teamLegend": legend(&all, |r| r.team.as_deref().unwrap().to_owned()),
        "deployment": {
            // Index 0 is "All deployments".
            "index": index + 1,
            "name": chosen,
            "total": cents(of_chosen.iter().map(|r| r.cost).sum()),
            "pieLegend": legend(&of_chosen, feature),
        },
        "changes": { "period": 2, "endpoint": "svc000/endpoint00" },
        "hostile": HOSTILE,
    });
    assert!(
        expected["pieLegend"]
            .as_array()
            .unwrap()
            .iter()
            .any(|name| name == "unprofiled"),
        "the fleet must exercise the unprofiled bucket"
    );
    let expected_path = dir.join("expected.json");
    std::fs::write(&expected_path, expected.to_string()).unwrap();
    let out = run_check(&[&report, &expected_path, &dir], &[]);
    assert!(
        out.contains("ok: no request besides the file itself"),
        "{out}"
    );
    eprintln!("{out}screenshots in {}", dir.display());
}

/// A window of one hour has one point per series: the area chart must still fill its plot (each
/// value holds for its hour), as after a short `featgen demo`.
#[test]
fn a_one_hour_report_draws_its_area() {
    let fleet = Fleet {
        start: 1_749_686_400,
        hours: 1,
        services: 2,
        deployments: 2,
        endpoints_per_service: 4,
        features_per_service: 2,
        regression_at: None,
    };
    let html = render(&fleet, &Options::default()).unwrap();
    let dir = artifacts("report-one-hour");
    let report = dir.join("one-hour.html");
    std::fs::write(&report, &html).unwrap();
    let out = run_check(&[&report, &report, &dir], &["--area-drawn"]);
    assert!(out.contains("ok: the area chart fills"), "{out}");
}
