//! `featgen cost` beside DuckDB running the generated `attribution.sql`, in the same run, on the
//! same files: one month of 300 deployments × 100 endpoints (21.6 million share rows) and a
//! billing export in the source article's row form with 20 SKUs per deployment-hour (4.32
//! million rows), both from Parquet and from CSV.
//!
//! ```text
//! cargo bench -p featgen-attribution --bench cost                 # the full month
//! cargo bench -p featgen-attribution --bench cost -- --hours 24   # a day, to try it out
//! ```
//!
//! The data is generated once into `target/bench-data/cost-<hours>h/` (about 6 GB for the
//! month; delete it to regenerate) and never enters git. Each engine runs as its own process,
//! measured by the test venv's Python (`.venv/bin/python` or `$FEATGEN_TEST_PYTHON`, with
//! `duckdb`): wall time, and CPU time and peak RSS from `wait4`. featgen's time is the whole
//! run of this binary as a child (`--featgen` mode: read the bill, stream the share rows,
//! price, write Parquet), the library calls `featgen cost` makes; DuckDB's is the `COPY` of the
//! generated `feature_cost` view to Parquet, timed inside the child (opening views is not
//! counted), over `read_parquet`/`read_csv` views of the same files, with `billing_hourly` a
//! `GROUP BY` of the article's rows. Both outputs are then checked to have the same rows and total.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use featgen_attribution::billing::{BillReader, BillingOptions};
use featgen_attribution::cost::allocate;
use featgen_attribution::format::{self, Format, RowWriter};
use featgen_attribution::{CostRow, ShareRow, UNATTRIBUTED_ID, UtcTime};

const DEPLOYMENTS: usize = 300;
const ENDPOINTS: usize = 100;
const SKUS: usize = 20;
/// The `featgen` binary's allocator (`cli/src/main.rs`): the `--featgen` child is `featgen
/// cost`'s work, with its allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 2025-06-01 00:00:00 UTC.
const MONTH_START: i64 = 1_748_736_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--write-only") if args.len() == 4 => {
            return write_only(Path::new(&args[2]), Path::new(&args[3]));
        }
        Some("--featgen") if args.len() == 5 => {
            return featgen(
                Path::new(&args[2]),
                Path::new(&args[3]),
                Path::new(&args[4]),
            );
        }
        _ => {}
    }
    let hours = bench_hours(&args[1..]);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let data = target.join(format!("bench-data/cost-{hours}h"));
    generate(&data, hours);
    let python = std::env::var_os("FEATGEN_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    let sql = root.join("generated/sql/duckdb/attribution.sql");
    let share_rows = hours * DEPLOYMENTS * ENDPOINTS;
    println!(
        "{share_rows} share rows ({hours} h × {DEPLOYMENTS} deployments × {ENDPOINTS} endpoints), {} billing rows; load average before: {}",
        hours * (DEPLOYMENTS * SKUS + 1),
        load_average()
    );
    println!("input    engine   seconds  CPU s  peak RSS MB  cost rows   total");
    for format in ["parquet", "csv"] {
        let shares = data.join(format!("shares.{format}"));
        let billing = data.join(format!("billing.{format}"));
        let featgen_out = data.join(format!("featgen-{format}.parquet"));
        let duckdb_out = data.join(format!("duckdb-{format}.parquet"));
        let featgen = measure(
            &python,
            &[
                std::env::current_exe().unwrap().to_str().unwrap(),
                "--featgen",
                shares.to_str().unwrap(),
                billing.to_str().unwrap(),
                featgen_out.to_str().unwrap(),
            ],
        );
        let duckdb = measure(
            &python,
            &[
                python.to_str().unwrap(),
                "-c",
                DUCKDB,
                sql.to_str().unwrap(),
                format,
                shares.to_str().unwrap(),
                billing.to_str().unwrap(),
                duckdb_out.to_str().unwrap(),
            ],
        );
        let duckdb_seconds: f64 = field(&duckdb.stdout, "query_seconds");
        let (featgen_rows, featgen_total) = check(&python, &featgen_out);
        let (duckdb_rows, duckdb_total) = check(&python, &duckdb_out);
        println!(
            "{format:<8} featgen  {:>7.1}  {:>5.1}  {:>11.0}  {featgen_rows:>9}  {featgen_total}",
            featgen.seconds, featgen.cpu_seconds, featgen.peak_mb
        );
        // DuckDB's CPU is its whole process's (views and Python included), its time the query's.
        println!(
            "{format:<8} duckdb   {duckdb_seconds:>7.1}  {:>5.1}  {:>11.0}  {duckdb_rows:>9}  {duckdb_total}",
            duckdb.cpu_seconds, duckdb.peak_mb
        );
        println!(
            "{format:<8} featgen / duckdb time: {:.2}",
            featgen.seconds / duckdb_seconds
        );
        assert_eq!(
            (featgen_rows, &featgen_total),
            (duckdb_rows, &duckdb_total),
            "featgen and DuckDB disagree"
        );
    }
    println!("load average after: {}", load_average());
}

/// The `featgen cost` pipeline, as the CLI runs it: bill, streamed shares, cost rows to Parquet.
fn featgen(shares: &Path, billing: &Path, out: &Path) {
    let mut reader = BillReader::new(BillingOptions::default());
    reader.read_file(billing).unwrap();
    let bill = reader.finish().unwrap();
    let rows = format::read_merged::<ShareRow>(&[shares.to_path_buf()], None)
        .unwrap()
        .map(|row| row.unwrap());
    let mut writer = RowWriter::<CostRow>::create(Format::Parquet, Some(out)).unwrap();
    let summary = allocate(&bill, rows, |row| {
        writer.write(row).map_err(std::io::Error::other)
    })
    .unwrap();
    writer.finish().unwrap();
    assert!(summary.balanced());
}

/// The writing side alone: `featgen cost`'s rows (read from a cost file into memory first)
/// written to Parquet, timed; for profiling the encoder without the reader and allocation.
fn write_only(rows: &Path, out: &Path) {
    let rows = format::read_all::<CostRow>(rows, None).unwrap();
    let (start, cpu) = (std::time::Instant::now(), process_cpu_seconds());
    let mut writer = RowWriter::<CostRow>::create(Format::Parquet, Some(out)).unwrap();
    for row in rows {
        writer.write(row).unwrap();
    }
    writer.finish().unwrap();
    println!(
        "wrote in {:.2} s, {:.2} CPU s",
        start.elapsed().as_secs_f64(),
        process_cpu_seconds() - cpu
    );
}

/// This process's user and system CPU time so far, from `/proc/self/stat` (in clock ticks of
/// 1/100 s).
fn process_cpu_seconds() -> f64 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// The full bench's `--hours N` (720, the month, by default). Anything else but cargo's own
/// `--bench` is refused, so that a mistyped child mode never starts the full bench, which writes
/// its outputs into the shared data directory.
fn bench_hours(args: &[String]) -> usize {
    const USAGE: &str = "usage: cost [--bench] [--hours N] | --featgen SHARES BILLING OUT | \
                         --write-only COST_FILE OUT";
    let mut hours = 720;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--hours" => match args.next().map(|hours| hours.parse()) {
                Some(Ok(parsed)) => hours = parsed,
                _ => exit_with_usage(USAGE),
            },
            _ => exit_with_usage(USAGE),
        }
    }
    hours
}

/// Prints `usage` and exits with status 2.
fn exit_with_usage(usage: &str) -> ! {
    eprintln!("{usage}");
    std::process::exit(2)
}

/// The DuckDB child: views over the files, then the timed `COPY`.
const DUCKDB: &str = r#"
import json, sys, time, duckdb
sql, form, shares, billing, out = sys.argv[1:]
db = duckdb.connect()
db.execute("SET threads = 2")
db.execute("SET enable_progress_bar = false")
db.execute("SET TimeZone = 'UTC'")
if form == "parquet":
    db.execute(f"CREATE VIEW fact_cpu_share AS SELECT * FROM read_parquet('{shares}')")
    db.execute(f"CREATE VIEW billing AS SELECT * FROM read_parquet('{billing}')")
else:
    share_types = {"start_time": "TIMESTAMPTZ", "end_time": "TIMESTAMPTZ", "deployment": "VARCHAR",
        "feature": "VARCHAR", "endpoint": "VARCHAR", "percentage_of_cpu": "DOUBLE",
        "feature_id": "BIGINT", "feature_group": "VARCHAR", "team": "VARCHAR", "tier": "VARCHAR",
        "cpu_ns": "BIGINT", "samples": "BIGINT", "requests": "BIGINT"}
    db.execute(f"CREATE VIEW fact_cpu_share AS SELECT * FROM read_csv('{shares}', header = true, columns = {share_types!r})")
    bill_types = {"sku": "VARCHAR", "description": "VARCHAR", "resource": "VARCHAR",
        "usage_start_time": "TIMESTAMPTZ", "usage_end_time": "TIMESTAMPTZ", "quantity": "DOUBLE",
        "cost_per": "DOUBLE", "total_cost": "DECIMAL(18, 6)", "k8s_deployment": "VARCHAR"}
    db.execute(f"CREATE VIEW billing AS SELECT * FROM read_csv('{billing}', header = true, columns = {bill_types!r})")
# The article's rows are hourly, with six decimal places: the hourly table is their sum.
db.execute("""CREATE VIEW billing_hourly AS
SELECT usage_start_time AS start_time, usage_end_time AS end_time,
       coalesce(k8s_deployment, '') AS deployment, 'USD' AS currency,
       sum(CAST(total_cost AS DECIMAL(18, 6))) AS amount,
       CAST(sum(CAST(total_cost AS DECIMAL(18, 6))) * 1000000 AS HUGEINT) AS amount_units,
       6 AS amount_scale, k8s_deployment IS NULL AS unallocated
FROM billing GROUP BY ALL""")
db.execute(open(sql).read())
start = time.perf_counter()
db.execute(f"COPY (SELECT * FROM feature_cost) TO '{out}' (FORMAT parquet)")
print(json.dumps({"query_seconds": time.perf_counter() - start}))
"#;

/// A child process's wall time, CPU time (user and system, all threads), peak RSS and first
/// line of output.
struct Measured {
    seconds: f64,
    cpu_seconds: f64,
    peak_mb: f64,
    stdout: String,
}

const MEASURE: &str = r#"
import json, os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
out = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
seconds = time.perf_counter() - start
sys.stdout.write(out.decode())
print(json.dumps({"wall_seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
    "peak_rss_kb": usage.ru_maxrss, "status": status}))
"#;

/// Runs `argv` as a child of Python, which measures it.
fn measure(python: &Path, argv: &[&str]) -> Measured {
    let output = Command::new(python)
        .args(["-c", MEASURE])
        .args(argv)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", python.display()));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(
        field::<i64>(last, "status"),
        0,
        "{argv:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Measured {
        seconds: field(last, "wall_seconds"),
        cpu_seconds: field(last, "cpu_seconds"),
        peak_mb: field::<f64>(last, "peak_rss_kb") / 1024.0,
        stdout: stdout.lines().next().unwrap_or_default().to_owned(),
    }
}

fn field<T: serde::de::DeserializeOwned>(json: &str, name: &str) -> T {
    let value: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|err| panic!("{err}: {json}"));
    serde_json::from_value(value[name].clone()).unwrap()
}

/// The row count and total cost of a cost file, by DuckDB.
fn check(python: &Path, file: &Path) -> (u64, String) {
    let output = Command::new(python)
        .args([
            "-c",
            // No progress bar: on a month's file it would print before the figures.
            "import duckdb, sys; db = duckdb.connect(); db.execute('SET enable_progress_bar = false'); n, t = db.execute(f\"SELECT count(*), CAST(sum(cost) AS VARCHAR) FROM read_parquet('{sys.argv[1]}')\").fetchall()[0]; print(n, t)",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let counted = text
        .trim()
        .split_once(' ')
        .and_then(|(rows, total)| Some((rows.parse().ok()?, total.to_owned())));
    counted.unwrap_or_else(|| {
        panic!(
            "cannot count {}: {text}{}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// A deterministic pseudo-random stream (SplitMix64): the same data on every machine.
struct Random(u64);

impl Random {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % below
    }
}

/// Writes the share rows (Parquet and CSV) and the article's billing rows (CSV, then Parquet
/// by DuckDB with typed columns) into `dir`, unless a previous run completed them.
fn generate(dir: &Path, hours: usize) {
    let done = dir.join("complete");
    if done.exists() {
        return;
    }
    fs::create_dir_all(dir).unwrap();
    eprintln!("generating {} ...", dir.display());
    let mut random = Random(7);
    let mut parquet =
        RowWriter::<ShareRow>::create(Format::Parquet, Some(&dir.join("shares.parquet"))).unwrap();
    let mut csv =
        RowWriter::<ShareRow>::create(Format::Csv, Some(&dir.join("shares.csv"))).unwrap();
    let mut billing = BufWriter::new(File::create(dir.join("billing.csv")).unwrap());
    writeln!(
        billing,
        "sku,description,resource,usage_start_time,usage_end_time,quantity,cost_per,total_cost,k8s_deployment"
    )
    .unwrap();
    let mut cpu = vec![0_u64; ENDPOINTS];
    for hour in 0..hours {
        let start = UtcTime(MONTH_START + hour as i64 * 3_600);
        let end = UtcTime(start.unix() + 3_600);
        for deployment in 0..DEPLOYMENTS {
            let name = format!("service-{deployment:03}");
            // Shares, in (start_time, deployment) order as `featgen shares` writes them; the
            // last endpoint is the deployment's unattributed CPU.
            cpu.iter_mut()
                .for_each(|ns| *ns = 10_000_000 * (1 + random.next(10_000)));
            let total: u64 = cpu.iter().sum();
            for (endpoint, &cpu_ns) in cpu.iter().enumerate() {
                let attributed = endpoint + 1 < ENDPOINTS;
                let feature = endpoint % 25;
                let row = ShareRow {
                    start_time: start,
                    end_time: end,
                    deployment: name.as_str().into(),
                    feature: attributed.then(|| format!("feature_{feature:02}").into()),
                    endpoint: attributed
                        .then(|| format!("GET /api/v1/resource_{endpoint:02}").into()),
                    percentage_of_cpu: cpu_ns as f64 / total as f64,
                    feature_id: if attributed {
                        feature as i64 + 1
                    } else {
                        UNATTRIBUTED_ID
                    },
                    feature_group: attributed.then(|| format!("group_{}", feature % 5).into()),
                    team: attributed.then(|| format!("team_{}", feature % 8).into()),
                    tier: attributed.then(|| ["critical", "standard"][feature % 2].into()),
                    cpu_ns,
                    samples: cpu_ns / 10_000_000,
                    requests: attributed.then(|| random.next(50_000)),
                };
                parquet.write(row.clone()).unwrap();
                csv.write(row).unwrap();
            }
            for sku in 0..SKUS {
                let quantity = 1 + random.next(64);
                let cost_per = 1 + random.next(40_000);
                writeln!(
                    billing,
                    "SKU-{sku:02},Instance resource {sku} running in Americas,{},{start},{end},{quantity}.0,0.{cost_per:06},{}.{:06},{name}",
                    ["cpu", "memory"][sku % 2],
                    quantity * cost_per / 1_000_000,
                    quantity * cost_per % 1_000_000
                )
                .unwrap();
            }
        }
        // One row a month-hour without a deployment: the unallocated bucket.
        writeln!(
            billing,
            "NET-EGRESS,Network egress,network,{start},{end},1.0,0.120000,0.120000,"
        )
        .unwrap();
    }
    parquet.finish().unwrap();
    csv.finish().unwrap();
    billing.into_inner().unwrap().sync_all().unwrap();
    let python = std::env::var_os("FEATGEN_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    let status = Command::new(python)
        .args([
            "-c",
            "import duckdb, sys; duckdb.execute(f\"COPY (SELECT * REPLACE (CAST(usage_start_time AS TIMESTAMPTZ) AS usage_start_time, CAST(usage_end_time AS TIMESTAMPTZ) AS usage_end_time, CAST(total_cost AS DECIMAL(18, 6)) AS total_cost) FROM read_csv('{sys.argv[1]}', all_varchar = true)) TO '{sys.argv[2]}' (FORMAT parquet)\")",
            dir.join("billing.csv").to_str().unwrap(),
            dir.join("billing.parquet").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success(), "DuckDB could not write billing.parquet");
    File::create(done).unwrap();
}
