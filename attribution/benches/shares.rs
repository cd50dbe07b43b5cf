//! One deployment-day of profiles (8,640 files of 10 s, 50 routes, a realistic mix of stacks)
//! reduced to hourly share rows, beside `go tool pprof -raw` over the same files in the same
//! run.
//!
//! `cargo bench -p featgen-attribution --bench shares`. The files are generated once into
//! `target/bench-profiles/` (deterministic, about 20 s). Go's reader gets the same hourly job:
//! one `go tool pprof -raw` per hour over that hour's 360 files (it merges them and prints
//! every sample with its labels), output discarded; `SHARES_BENCH_GO_HOURS=N` runs only the
//! first N hours (and says so) when the full day would take too long on a loaded machine.
//!
//! Besides wall time, each run reports the CPU time the process used (user + system, from
//! `/proc/self/stat`), which other processes on a shared machine disturb less; and, on one
//! thread, where the time goes: reading the files, inflating them (the reader's libdeflate, its
//! general path's one-shot zlib-rs, flate2's streaming `Read` over zlib-rs, and miniz_oxide,
//! flate2's default backend). `SHARES_BENCH_ONLY=featgen` runs only featgen's runs (for
//! profiling them with `perf`).

#[path = "../tests/support/mod.rs"]
mod support;

use featgen_attribution::format::{Format, write_rows_to};
use featgen_attribution::period::{Period, Step};
use featgen_attribution::pprof::{Inflater, LabelNames, inflate_with_zlib};
use featgen_attribution::profiles::{ReadOptions, read_dir};
use featgen_attribution::resolve::Resolver;
use featgen_attribution::shares::shares;
use featgen_attribution::time::UtcTime;
use std::io::Read;
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

/// CPU time (user + system) this process has used.
fn cpu_time() -> Duration {
    proc_stat_time([11, 12])
}

/// CPU time (user + system) of this process's finished children.
fn children_cpu_time() -> Duration {
    proc_stat_time([13, 14])
}

/// The sum of two clock-tick fields of `/proc/self/stat`, counted after the command name (in
/// parentheses): 11 and 12 are utime and stime, 13 and 14 the children's (100 ticks a second).
fn proc_stat_time(fields: [usize; 2]) -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = fields
        .iter()
        .filter_map(|&at| after_name.get(at)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Wall and CPU time of `work`.
fn timed<T>(work: impl FnOnce() -> T) -> (Duration, Duration, T) {
    let (cpu, started) = (cpu_time(), Instant::now());
    let result = work();
    (started.elapsed(), cpu_time() - cpu, result)
}

fn featgen_shares(dir: &Path, threads: usize) -> usize {
    let options = ReadOptions {
        labels: LabelNames::default(),
        period: Period::new(UtcTime(DAY_START), UtcTime(DAY_START + 86_400), Step::Hour).unwrap(),
        skip_damaged: false,
        threads,
    };
    let read = read_dir(dir, &options).unwrap();
    assert_eq!(read.summary.profiles, FILES as u64);
    let result = shares(read.cpu, Step::Hour, &Resolver::empty());
    let mut out = Vec::new();
    let rows = write_rows_to(result.rows.iter(), Format::Ndjson, &mut out, "-").unwrap();
    let total: u64 = result.rows.iter().map(|row| row.cpu_ns).sum();
    assert_eq!(total, FILES as u64 * PERIODS_PER_FILE * PERIOD_NS as u64);
    rows as usize
}

/// Reads every file and hands its bytes to `each`; the total of what `each` returns.
fn over_files(files: &[PathBuf], mut each: impl FnMut(&[u8]) -> usize) -> usize {
    let mut raw = Vec::new();
    files
        .iter()
        .map(|path| {
            raw.clear();
            std::fs::File::open(path)
                .unwrap()
                .read_to_end(&mut raw)
                .unwrap();
            each(&raw)
        })
        .sum()
}

/// One thread: reading the files, and inflating them three ways.
fn where_the_time_goes(files: &[PathBuf]) {
    let mut out = Vec::new();
    let (wall, cpu, bytes) = timed(|| over_files(files, |raw| raw.len()));
    println!(
        "  read the files: {wall:.3?} (CPU {cpu:.2?}) for {:.1} MiB",
        bytes as f64 / (1 << 20) as f64
    );
    let mut inflater = Inflater::default();
    let (wall, cpu, inflated) = timed(|| {
        over_files(files, |raw| {
            inflater.inflate(raw, &mut out).unwrap();
            out.len()
        })
    });
    let mib = inflated as f64 / (1 << 20) as f64;
    let per_cpu = |cpu: Duration| mib / cpu.as_secs_f64().max(1e-3);
    println!(
        "  + inflate, the reader's (libdeflate, one call per file): {wall:.3?} (CPU {cpu:.2?}) to {mib:.1} MiB, {:.0} MiB/s of CPU",
        per_cpu(cpu)
    );
    let (wall, cpu, _) = timed(|| {
        over_files(files, |raw| {
            inflate_with_zlib(raw, &mut out).unwrap();
            out.len()
        })
    });
    println!(
        "  + inflate, the general path (zlib-rs, one call per member): {wall:.3?} (CPU {cpu:.2?}), {:.0} MiB/s of CPU",
        per_cpu(cpu)
    );
    let (wall, cpu, _) = timed(|| {
        over_files(files, |raw| {
            out.clear();
            flate2::read::MultiGzDecoder::new(raw)
                .read_to_end(&mut out)
                .unwrap()
        })
    });
    println!(
        "  + inflate, flate2 read::MultiGzDecoder over zlib-rs (streaming): {wall:.3?} (CPU {cpu:.2?}), {:.0} MiB/s of CPU",
        per_cpu(cpu)
    );
    let (wall, cpu, _) = timed(|| {
        over_files(files, |raw| {
            // flate2's GzEncoder writes a 10-byte header and an 8-byte trailer around the
            // deflate stream; miniz_oxide reads the raw stream.
            miniz_oxide::inflate::decompress_to_vec(&raw[10..raw.len() - 8])
                .unwrap()
                .len()
        })
    });
    println!(
        "  + inflate, miniz_oxide (flate2's default backend): {wall:.3?} (CPU {cpu:.2?}), {:.0} MiB/s of CPU",
        per_cpu(cpu)
    );
}

fn go_pprof_raw(files: &[PathBuf], hours: usize) -> Option<(Duration, Duration)> {
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
    let (cpu, started) = (children_cpu_time(), Instant::now());
    for hour in files.chunks(FILES / 24).take(hours) {
        assert!(run(hour), "go tool pprof -raw failed");
    }
    Some((started.elapsed(), children_cpu_time() - cpu))
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
        "{} files, {:.1} MiB gzip; load average {}",
        files.len(),
        bytes as f64 / (1 << 20) as f64,
        load_average()
    );

    for threads in [0, 1] {
        let mut runs = Vec::new();
        let mut peak = 0;
        let mut rows = 0;
        for _ in 0..3 {
            reset_peak_rss();
            let before = peak_rss_kib();
            let (wall, cpu, row_count) = timed(|| featgen_shares(&dir, threads));
            peak = peak.max(peak_rss_kib().saturating_sub(before));
            runs.push((wall, cpu));
            rows = row_count;
        }
        runs.sort();
        let label = if threads == 0 {
            format!(
                "all {} cores",
                std::thread::available_parallelism().map_or(1, usize::from)
            )
        } else {
            format!("{threads} thread")
        };
        println!(
            "featgen shares ({label}): median {:.3?} (min {:.3?}), CPU {:.2?} (median run) for {rows} hourly rows; peak RSS growth {} KiB",
            runs[1].0, runs[0].0, runs[1].1, peak
        );
    }
    if std::env::var("SHARES_BENCH_ONLY").is_ok_and(|only| only == "featgen") {
        return;
    }
    println!("where the time goes, one thread:");
    where_the_time_goes(&files);
    let hours = std::env::var("SHARES_BENCH_GO_HOURS")
        .ok()
        .and_then(|hours| hours.parse().ok())
        .unwrap_or(24usize)
        .clamp(1, 24);
    match go_pprof_raw(&files, hours) {
        Some((wall, cpu)) => println!(
            "go tool pprof -raw, {hours} run(s) of 360 files{}: {wall:.3?} (CPU {cpu:.2?}); load average {}",
            if hours < 24 {
                " (SHARES_BENCH_GO_HOURS: not the whole day)"
            } else {
                ""
            },
            load_average()
        ),
        None => println!("go tool pprof: not available (install Go)"),
    }
}

/// The 1-, 5- and 15-minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
