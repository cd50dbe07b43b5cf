//! One deployment-day of profiles (8,640 files of 10 s, 50 routes, a realistic mix of stacks)
//! reduced to hourly share rows, beside `go tool pprof -raw` over the same files in the same
//! run.
//!
//! `cargo bench -p featgen-attribution --bench shares`. The files are generated once into
//! `target/bench-profiles/` (deterministic, about 20 s). Go's reader gets the same hourly job:
//! one `go tool pprof -raw` per hour over that hour's 360 files (it merges them and prints
//! every sample with its labels), output discarded.

#[path = "../tests/support/mod.rs"]
mod support;

use featgen_attribution::format::{Format, write_rows_to};
use featgen_attribution::period::{Period, Step};
use featgen_attribution::pprof::LabelNames;
use featgen_attribution::profiles::{ReadOptions, read_dir};
use featgen_attribution::resolve::Resolver;
use featgen_attribution::shares::shares;
use featgen_attribution::time::UtcTime;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::Builder;

/// 2026-04-01 00:00:00 UTC.
const DAY_START: i64 = 1_775_001_600;
const FILES: usize = 8_640;
const ROUTES: usize = 50;
const STACKS_PER_ROUTE: usize = 24;
const FUNCTIONS: usize = 600;
/// 100 Hz on 4 busy cores for 10 s.
const PERIODS_PER_FILE: u64 = 4_000;
const PERIOD_NS: i64 = 10_000_000;

/// A deterministic xorshift generator (no dependency for the benchmark's data).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct RouteSpec {
    feature: String,
    feature_id: String,
    endpoint: String,
    group: String,
    team: String,
    /// Skewed traffic: a few routes use most of the CPU.
    weight: u64,
    stacks: Vec<Vec<usize>>,
}

fn routes(rng: &mut Rng) -> Vec<RouteSpec> {
    (0..ROUTES)
        .map(|index| {
            let stacks = (0..STACKS_PER_ROUTE)
                .map(|_| {
                    let depth = 12 + rng.below(28) as usize;
                    (0..depth)
                        .map(|_| rng.below(FUNCTIONS as u64) as usize)
                        .collect()
                })
                .collect();
            RouteSpec {
                feature: format!("feature-{}", index / 2),
                feature_id: (index / 2 + 1).to_string(),
                endpoint: format!("endpoint_{index}"),
                group: format!("group-{}", index / 10),
                team: format!("team-{}", index / 5),
                weight: 1_000 / (index as u64 + 1),
                stacks,
            }
        })
        .collect()
}

/// Writes the day's files into `dir` (skipped when a complete set is there).
fn generate(dir: &Path) {
    let done = dir.join(".complete");
    if done.exists() {
        return;
    }
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let routes = routes(&mut rng);
    let weights: u64 = routes.iter().map(|r| r.weight).sum();
    for file in 0..FILES {
        let start = (DAY_START + file as i64 * 10) * 1_000_000_000;
        let mut profile = Builder::cpu(start, 10_000_000_000);
        profile.profile.period = PERIOD_NS;
        let locations: Vec<u64> = (0..FUNCTIONS)
            .map(|f| profile.location(&format!("service::module_{}::function_{f}", f % 37)))
            .collect();
        // Samples aggregated per (route, stack) as the profiler does; 10% unattributed.
        let mut counts = std::collections::BTreeMap::<(usize, usize), u64>::new();
        for _ in 0..PERIODS_PER_FILE {
            let route = if rng.below(10) == 0 {
                ROUTES
            } else {
                let mut pick = rng.below(weights);
                routes
                    .iter()
                    .position(|r| {
                        let hit = pick < r.weight;
                        pick = pick.saturating_sub(r.weight);
                        hit
                    })
                    .unwrap()
            };
            *counts
                .entry((route, rng.below(STACKS_PER_ROUTE as u64) as usize))
                .or_default() += 1;
        }
        for ((route, stack), count) in counts {
            let series = [
                ("service_name", "messages"),
                ("deployment", "messages-production"),
            ];
            let spec = routes.get(route);
            let stack_of = spec.map_or(&routes[0].stacks[stack], |spec| &spec.stacks[stack]);
            let stack: Vec<u64> = stack_of.iter().map(|&f| locations[f]).collect();
            let mut labels = Vec::new();
            if let Some(spec) = spec {
                labels.extend([
                    ("feature", spec.feature.as_str()),
                    ("endpoint", spec.endpoint.as_str()),
                    ("feature_group", spec.group.as_str()),
                    ("team", spec.team.as_str()),
                    ("tier", "A"),
                    ("feature_id", spec.feature_id.as_str()),
                ]);
            }
            labels.extend(series);
            profile.sample(stack, vec![count as i64 * PERIOD_NS], &labels, None);
        }
        let name = format!(
            "messages.{}-{}.{file}.pb.gz",
            start / 1_000_000,
            start / 1_000_000 + 10_000
        );
        std::fs::write(dir.join(name), profile.gzip()).unwrap();
    }
    std::fs::write(done, b"").unwrap();
    eprintln!("generated {FILES} profiles in {:.1?}", started.elapsed());
}

/// Peak resident memory since the last reset, KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn reset_peak_rss() {
    // Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn featgen_shares(dir: &Path, threads: usize) -> (Duration, usize, u64) {
    let options = ReadOptions {
        labels: LabelNames::default(),
        period: Period::new(UtcTime(DAY_START), UtcTime(DAY_START + 86_400), Step::Hour).unwrap(),
        skip_damaged: false,
        threads,
    };
    let started = Instant::now();
    let read = read_dir(dir, &options).unwrap();
    assert_eq!(read.summary.profiles, FILES as u64);
    let result = shares(read.cpu, Step::Hour, &Resolver::empty());
    let mut out = Vec::new();
    let rows = write_rows_to(result.rows.iter(), Format::Ndjson, &mut out, "-").unwrap();
    let elapsed = started.elapsed();
    let total: u64 = result.rows.iter().map(|row| row.cpu_ns).sum();
    assert_eq!(total, FILES as u64 * PERIODS_PER_FILE * PERIOD_NS as u64);
    (elapsed, rows as usize, out.len() as u64)
}

fn go_pprof_raw(files: &[PathBuf]) -> Option<Duration> {
    let run = |chunk: &[PathBuf]| {
        Command::new("go")
            .args(["tool", "pprof", "-raw"])
            .args(chunk)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    // Warm-up: the first `go tool pprof` may build the tool.
    if !run(&files[..1]) {
        return None;
    }
    let started = Instant::now();
    for hour in files.chunks(FILES / 24) {
        assert!(run(hour), "go tool pprof -raw failed");
    }
    Some(started.elapsed())
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-profiles/day-v1");
    generate(&dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "gz"))
        .collect();
    files.sort();
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    println!(
        "{} files, {:.1} MiB gzip",
        files.len(),
        bytes as f64 / (1 << 20) as f64
    );

    for threads in [0, 1] {
        let mut times = Vec::new();
        let mut peak = 0;
        let mut rows = 0;
        for _ in 0..3 {
            reset_peak_rss();
            let before = peak_rss_kib();
            let (elapsed, row_count, _) = featgen_shares(&dir, threads);
            peak = peak.max(peak_rss_kib().saturating_sub(before));
            times.push(elapsed);
            rows = row_count;
        }
        times.sort();
        let label = if threads == 0 {
            "all cores".to_owned()
        } else {
            format!("{threads} thread")
        };
        println!(
            "featgen shares ({label}): median {:.3?} (min {:.3?}) for {rows} hourly rows; peak RSS growth {} KiB",
            times[1], times[0], peak
        );
    }
    match go_pprof_raw(&files) {
        Some(elapsed) => println!("go tool pprof -raw, 24 runs of 360 files: {elapsed:.3?}"),
        None => println!("go tool pprof: not available (install Go)"),
    }
}
