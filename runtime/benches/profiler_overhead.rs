//! Overhead of the featgen profiler, with each sampling engine, against no profiler and pprof-rs,
//! in one run.
//!
//! Run (release, with frame pointers as a service should be built):
//!
//! ```text
//! RUSTFLAGS="-C force-frame-pointers=yes" cargo bench -p featgen --bench profiler_overhead
//! ```
//!
//! Each configuration runs in a fresh child process (so that peak memory is its own and the
//! one `SIGPROF` handler is not shared): a CPU-bound workload of a fixed amount of work on two
//! threads, each under a route. A child reports the process CPU time it used, the samples the
//! profiler delivered, and its peak RSS. The parent runs every configuration `ROUNDS` times,
//! interleaved, and prints a Markdown table (the minimum CPU time is the least disturbed by other
//! load on the machine). Overhead is the extra CPU time for the same work, relative to no
//! profiler.
//!
//! With `FEATGEN_BENCH_SOAK_SECS=600` it instead runs a memory soak: a service-like workload
//! (two threads at about a quarter of a core each, thousands of distinct stacks) for that long,
//! once without profiler and once with featgen at 1000 Hz and 10 s intervals, side by side, and
//! prints both peak RSS.

use featgen::profiler::{Profiler, SamplingEngine};
use featgen::{FeatureInfo, Route, RouteKind};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs per configuration (minimum and median are reported); `FEATGEN_BENCH_ROUNDS` overrides.
const ROUNDS: usize = 7;
/// Work units per thread (about 2 s of CPU per thread here).
const UNITS: u64 = 300;

static BENCH: Route = Route {
    kind: RouteKind::Task,
    method: "",
    path: "",
    endpoint: "bench",
    feature: FeatureInfo {
        name: "bench",
        id: 1,
        group: "bench",
        team: "bench",
        tier: "bench",
    },
    module: module_path!(),
    file: file!(),
    line: line!(),
    calls: featgen::Calls::new(),
};

/// Recursive work, so that stacks have some depth.
#[inline(never)]
fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

/// The fixed amount of work of one thread.
fn workload() {
    let threads: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(|| {
                let _route = featgen::enter(&BENCH);
                for _ in 0..UNITS {
                    std::hint::black_box(fib(std::hint::black_box(32)));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// Recursion through `depth` frames of one of a few functions, so stacks vary in depth and shape.
#[inline(never)]
fn shaped(depth: u32, shape: u32) -> u64 {
    if depth == 0 {
        return fib(18);
    }
    match shape % 3 {
        0 => shaped(depth - 1, shape / 3 + 1) + 1,
        1 => shaped(depth - 1, shape / 3 + 2) ^ 2,
        _ => shaped(depth - 1, shape / 3).wrapping_mul(3),
    }
}

/// The soak workload: varied stacks at a low duty cycle until `until`.
fn soak_workload(until: Instant) {
    let threads: Vec<_> = (0..2)
        .map(|thread| {
            std::thread::spawn(move || {
                let _route = featgen::enter(&BENCH);
                let mut round = thread;
                while Instant::now() < until {
                    let busy = Instant::now();
                    std::hint::black_box(shaped(1 + round % 120, round));
                    round += 1;
                    std::thread::sleep(busy.elapsed() * 3);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// CPU time of this process, and its peak RSS in KiB.
fn usage() -> (Duration, u64) {
    // SAFETY: getrusage fills the zeroed struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (
        time(usage.ru_utime) + time(usage.ru_stime),
        usage.ru_maxrss as u64,
    )
}

/// Runs one configuration in this (child) process and prints `cpu_s signals periods peak_kib`:
/// the samples taken (signals) and the sampling periods they stand for (featgen weighs a sample
/// by the periods of CPU time it completes, pprof-rs counts each as one period).
fn child(mode: &str) {
    let start = usage().0;
    if let Some(seconds) = mode.strip_prefix("soak-") {
        let until = Instant::now() + Duration::from_secs(seconds.parse().unwrap());
        let dir = std::env::temp_dir().join(format!("featgen-soak-{}", std::process::id()));
        let profiler = std::env::var_os("FEATGEN_BENCH_SOAK_PROFILE").map(|_| {
            Profiler::builder()
                .frequency_hz(1000)
                .local_dir(&dir)
                .start()
                .unwrap()
        });
        soak_workload(until);
        let taken = profiler.map_or(0, |profiler| profiler.stop().samples_taken);
        let _ = std::fs::remove_dir_all(&dir);
        println!(
            "{} {taken} {taken} {}",
            (usage().0 - start).as_secs_f64(),
            usage().1
        );
        return;
    }
    let (signals, periods) = match mode.split_once('-') {
        None => {
            workload();
            (0, 0)
        }
        Some(("featgen", engine_hz)) => {
            let (engine, hz) = engine_hz.rsplit_once('-').unwrap();
            let engine = match engine {
                "perf_event" => SamplingEngine::PerfEvent,
                "timer_create" => SamplingEngine::TimerCreate,
                _ => panic!("unknown engine {engine}"),
            };
            let dir = std::env::temp_dir().join(format!("featgen-bench-{}", std::process::id()));
            let profiler = Profiler::builder()
                .frequency_hz(hz.parse().unwrap())
                .sampling_engine(engine)
                .local_dir(&dir)
                .start()
                .unwrap();
            workload();
            let stats = profiler.stop();
            let _ = std::fs::remove_dir_all(&dir);
            (stats.signals, stats.samples_taken)
        }
        Some(("pprof", hz)) => {
            let guard = pprof::ProfilerGuardBuilder::default()
                .frequency(hz.parse().unwrap())
                .build()
                .unwrap();
            workload();
            let report = guard.report().build().unwrap();
            let samples: u64 = report.data.values().map(|count| *count as u64).sum();
            (samples, samples)
        }
        _ => panic!("unknown mode {mode}"),
    };
    let (end, peak) = usage();
    println!("{} {signals} {periods} {peak}", (end - start).as_secs_f64());
}

/// The minimum and the median.
fn min_median(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[0], values[values.len() / 2])
}

fn main() {
    if let Ok(mode) = std::env::var("FEATGEN_BENCH_MODE") {
        return child(&mode);
    }
    if let Ok(seconds) = std::env::var("FEATGEN_BENCH_SOAK_SECS") {
        return soak(&seconds);
    }
    let modes = [
        "none",
        "featgen-perf_event-100",
        "featgen-timer_create-100",
        "pprof-100",
        "featgen-perf_event-1000",
        "featgen-timer_create-1000",
        "pprof-1000",
    ];
    let rounds = std::env::var("FEATGEN_BENCH_ROUNDS").map_or(ROUNDS, |n| n.parse().unwrap());
    let mut results: Vec<Vec<Vec<f64>>> = vec![Vec::new(); modes.len()];
    let started = Instant::now();
    for _ in 0..rounds {
        for (index, mode) in modes.iter().enumerate() {
            let output = Command::new(std::env::current_exe().unwrap())
                .env("FEATGEN_BENCH_MODE", mode)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{mode}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let line = String::from_utf8(output.stdout).unwrap();
            let fields: Vec<f64> = line
                .split_whitespace()
                .map(|field| field.parse().unwrap())
                .collect();
            results[index].push(fields);
        }
    }
    let column = |runs: &[Vec<f64>], value: &dyn Fn(&[f64]) -> f64| {
        min_median(&mut runs.iter().map(|run| value(run)).collect::<Vec<_>>())
    };
    let base = column(&results[0], &|run| run[0]);
    println!(
        "2 threads x {UNITS} x fib(32), {rounds} rounds, {:.0} s in all; \
         CPU and overhead as minimum / median over the rounds\n",
        started.elapsed().as_secs_f64()
    );
    println!(
        "| profiler | CPU s | overhead | samples per CPU-s | CPU accounted in the profile | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|");
    for (mode, runs) in modes.iter().zip(&results) {
        let cpu = column(runs, &|run| run[0]);
        let hz: f64 = mode
            .rsplit_once('-')
            .map_or(0.0, |(_, hz)| hz.parse().unwrap());
        let rate = column(runs, &|run| run[1] / run[0]).1;
        let accounted = column(runs, &|run| {
            if hz > 0.0 { run[2] / hz / run[0] } else { 0.0 }
        })
        .1;
        let peak = column(runs, &|run| run[3] / 1024.0).1;
        println!(
            "| {mode} | {:.3} / {:.3} | {:+.1}% / {:+.1}% | {rate:.0} | {:.0}% | {peak:.1} |",
            cpu.0,
            cpu.1,
            (cpu.0 - base.0) / base.0 * 100.0,
            (cpu.1 - base.1) / base.1 * 100.0,
            accounted * 100.0
        );
    }
}

/// Runs the soak with and without the profiler side by side and prints both peak RSS.
fn soak(seconds: &str) {
    let run = |profile: bool| {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.env("FEATGEN_BENCH_MODE", format!("soak-{seconds}"));
        if profile {
            command.env("FEATGEN_BENCH_SOAK_PROFILE", "1");
        }
        command
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (plain, profiled) = (run(false), run(true));
    for (name, child) in [("none", plain), ("featgen-1000", profiled)] {
        let output = child.wait_with_output().unwrap();
        let line = String::from_utf8(output.stdout).unwrap();
        let fields: Vec<f64> = line
            .split_whitespace()
            .map(|field| field.parse().unwrap())
            .collect();
        println!(
            "soak {seconds} s, {name}: CPU {:.1} s, samples {}, peak RSS {:.1} MiB",
            fields[0],
            fields[1],
            fields[3] / 1024.0
        );
    }
}
