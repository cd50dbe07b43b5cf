//! How big the report of a month of a large fleet is, and how long Chromium takes to draw it: 300
//! deployments (100 services in 3 regions), 2,400 endpoints (7,200 deployment-endpoint pairs),
//! hourly rows, 5.4 million cost rows. A measurement, not a check (figures in the README):
//!
//! ```text
//! cargo bench -p featgen-report --bench month
//! ```
//!
//! Needs what the browser test needs (node, `npm ci` in report/tests/browser, Chromium).

#[path = "../tests/chromium/mod.rs"]
mod chromium;
// The tests' fleet, whose cost-row helper only the browser test uses.
#[allow(dead_code)]
#[path = "../tests/synthetic/mod.rs"]
mod synthetic;

use chromium::{artifacts, run_check};
use featgen_report::{Options, render};
use synthetic::Fleet;

fn main() {
    let fleet = Fleet {
        start: 1_748_736_000, // 2025-06-01 00:00:00 UTC
        hours: 30 * 24,
        services: 100,
        deployments: 300,
        endpoints_per_service: 24,
        features_per_service: 6,
        regression_at: Some(25 * 24),
    };
    let started = std::time::Instant::now();
    let html = render(&fleet, &Options::default()).unwrap();
    let build = started.elapsed();
    let dir = artifacts("report-month");
    let report = dir.join("month.html");
    std::fs::write(&report, &html).unwrap();
    let out = run_check(&[&report, &report, &dir], &["--measure"]);
    eprintln!(
        "month report: {} bytes ({:.1} MB), built in {:.1} s (two passes over 5.4 M generated rows); Chromium: {}",
        html.len(),
        html.len() as f64 / 1e6,
        build.as_secs_f64(),
        out.lines().next().unwrap_or_default()
    );
    if html.len() >= 10_000_000 {
        eprintln!("over the 10 MB budget: {} bytes", html.len());
        std::process::exit(1);
    }
}
