//! Writes and reads 200,000 share rows in every format, and times DuckDB reading the same
//! files in the same run (the peer a warehouse user would load them with).
//!
//! `cargo bench -p featgen-attribution --bench formats` (DuckDB from `.venv/bin/python` or
//! `$FEATGEN_TEST_PYTHON`; skipped with a note when absent, since this is a measurement).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use featgen_attribution::format::{self, Format};
use featgen_attribution::{ShareRow, UNATTRIBUTED_ID, UtcTime};

const ROWS: usize = 200_000;

/// One month-like spread: 100 endpoints of 20 features per (hour, deployment).
fn rows() -> Vec<ShareRow> {
    (0..ROWS)
        .map(|i| {
            let endpoint = i % 100;
            let slice = i / 100;
            let start = UtcTime(1_749_740_400 + (slice / 50) as i64 * 3_600);
            let attributed = endpoint != 0;
            ShareRow {
                start_time: start,
                end_time: UtcTime(start.unix() + 3_600),
                deployment: format!("deployment-{}", slice % 50).into(),
                feature: attributed.then(|| format!("feature-{}", endpoint % 20).into()),
                endpoint: attributed.then(|| format!("endpoint_{endpoint}").into()),
                percentage_of_cpu: (endpoint as f64 + 0.5) / 5_050.0,
                feature_id: if attributed {
                    (endpoint % 20) as i64
                } else {
                    UNATTRIBUTED_ID
                },
                feature_group: attributed.then(|| "group".into()),
                team: attributed.then(|| "team".into()),
                tier: attributed.then(|| "A".into()),
                cpu_ns: 1_000_000_007 * (endpoint as u64 + 1),
                samples: 100 * (endpoint as u64 + 1),
                requests: attributed.then_some(endpoint as u64 * 37),
            }
        })
        .collect()
}

fn main() {
    let rows = rows();
    let dir = tempfile::tempdir().unwrap();
    let python = std::env::var_os("FEATGEN_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    println!("{ROWS} share rows; best of 2 runs");
    println!("format   bytes        write ms  read ms  duckdb read ms");
    for format in Format::ALL {
        let path = dir.path().join(format!("shares.{format}"));
        let best = |run: &mut dyn FnMut()| {
            (0..2)
                .map(|_| {
                    let start = Instant::now();
                    run();
                    start.elapsed().as_secs_f64() * 1e3
                })
                .fold(f64::INFINITY, f64::min)
        };
        let write = best(&mut || {
            format::write_rows(&rows, format, Some(&path)).unwrap();
        });
        let read = best(&mut || {
            let count = format::read_rows::<ShareRow>(&path, Some(format))
                .unwrap()
                .map(Result::unwrap)
                .count();
            assert_eq!(count, ROWS);
        });
        let reader = match format {
            Format::Ndjson => "read_json('{}', format = 'newline_delimited')",
            Format::Json => "read_json('{}', format = 'array', maximum_object_size = 1000000000)",
            Format::Csv => {
                "read_csv('{}', header = true, all_varchar = true, allow_quoted_nulls = false)"
            }
            Format::Parquet => "read_parquet('{}')",
        }
        .replace("{}", &path.display().to_string());
        // DuckDB materializes every column (not just a count) into a temporary table.
        let script = format!(
            "import duckdb, time\ncon = duckdb.connect()\nbest = 1e9\nfor _ in range(2):\n    t = time.perf_counter()\n    con.execute(\"CREATE OR REPLACE TEMP TABLE t AS SELECT * FROM {reader}\")\n    best = min(best, time.perf_counter() - t)\nprint(f'{{best * 1e3:.0f}}')"
        );
        let duckdb = Command::new(&python)
            .args(["-c", &script])
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map_or_else(
                || "n/a".to_owned(),
                |output| String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            );
        let bytes = std::fs::metadata(&path).unwrap().len();
        println!("{format:<8} {bytes:<12} {write:<9.0} {read:<8.0} {duckdb}");
    }
}
