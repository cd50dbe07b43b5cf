//! Accuracy of per-route CPU shares, both engines, against the truth: the full measurement
//! behind the README's figures (the suite's `tests/profiler_accuracy.rs` runs short versions).
//!
//! ```text
//! RUSTFLAGS="-C force-frame-pointers=yes" cargo bench -p featgen --bench profiler_accuracy
//! ```
//!
//! Per engine, `RUNS` runs of the mixed workload (timer-driven `messaging` and `search` in a
//! 3:1 ratio, bursts separated by 0.2 to 15 ms sleeps, and a periodic `reports` route on a
//! 2 ms `tokio::time::interval`, see `tests/fixtures/profiler/accuracy.rs`), each until the
//! routes used `CPU_SECS` of CPU. Prints, per run, each route's share error in percentage
//! points (profiler - truth) and the sample count behind it, as a Markdown table.
//!
//! Environment: `FEATGEN_ACCURACY_RUNS` (5), `FEATGEN_ACCURACY_CPU_SECS` (60),
//! `FEATGEN_ACCURACY_HZ` (100), `FEATGEN_ACCURACY_ENGINES` (`perf_event,timer_create`),
//! `FEATGEN_ACCURACY_WORKLOAD` (`mixed`, `timer_driven` or `periodic`).

#[path = "../tests/fixtures/profiler/support.rs"]
mod support;

#[path = "../tests/fixtures/profiler/accuracy.rs"]
mod accuracy;

use featgen::profiler::{Profiler, SamplingEngine};
use std::time::{Duration, Instant};

/// The value of environment variable `name`, or `default`.
fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn main() {
    let runs: usize = setting("FEATGEN_ACCURACY_RUNS", "5").parse().unwrap();
    let cpu = Duration::from_secs_f64(setting("FEATGEN_ACCURACY_CPU_SECS", "60").parse().unwrap());
    let hz: u32 = setting("FEATGEN_ACCURACY_HZ", "100").parse().unwrap();
    let workload_name = setting("FEATGEN_ACCURACY_WORKLOAD", "mixed");
    let workload = match workload_name.as_str() {
        "mixed" => accuracy::MIXED,
        "timer_driven" => accuracy::TIMER_DRIVEN,
        "periodic" => accuracy::PERIODIC,
        other => panic!("unknown workload {other}"),
    };
    let labels: Vec<usize> = workload.iter().map(|clients| clients.label).collect();
    println!(
        "{workload_name} workload, {hz} Hz, {runs} runs of {:.0} s of CPU per engine; \
         error of each route's share in percentage points (profiler - truth)\n",
        cpu.as_secs_f64()
    );
    let routes: Vec<&str> = labels
        .iter()
        .map(|&label| accuracy::ROUTES[label].feature.name)
        .collect();
    println!(
        "| engine | run | {} | worst | labeled samples | standard error (pp) | samples per CPU-s | wall s |",
        routes.join(" | ")
    );
    println!(
        "|---|---|{}---|---|---|---|---|",
        "---|".repeat(routes.len())
    );
    for engine in setting("FEATGEN_ACCURACY_ENGINES", "perf_event,timer_create").split(',') {
        let requested = match engine {
            "perf_event" => SamplingEngine::PerfEvent,
            "timer_create" => SamplingEngine::TimerCreate,
            other => panic!("unknown engine {other}"),
        };
        for run in 1..=runs {
            let started = Instant::now();
            let builder = Profiler::builder()
                .frequency_hz(hz)
                .sampling_engine(requested);
            let outcome = accuracy::run(builder, workload, cpu);
            assert_eq!(outcome.stats.sampler, engine);
            let errors: Vec<String> = labels
                .iter()
                .map(|&label| {
                    let (truth, sampled) = outcome.shares(label);
                    format!("{:+.2}", (sampled - truth) * 100.0)
                })
                .collect();
            let (truth, _) = outcome.shares(labels[0]);
            let truth_cpu = outcome.truth.iter().sum::<u64>() as f64 / 1e9;
            println!(
                "| {engine} | {run} | {} | {:.2} | {:.0} | {:.2} | {:.0} | {:.0} |",
                errors.join(" | "),
                outcome.worst_error_pp().abs(),
                outcome.labeled_samples(),
                outcome.standard_error(truth) * 100.0,
                outcome.stats.signals as f64 / truth_cpu,
                started.elapsed().as_secs_f64()
            );
        }
    }
}
