//! Accuracy of per-feature CPU shares with async work interleaved on the same worker threads.
//!
//! The timer-driven and periodic variants (workloads in `fixtures/profiler/accuracy.rs`) check
//! the default engine against the truth, without retries, within a bound derived from the
//! sampling error (see [`assert_accurate`]); the 60 s measurement against the 1-point target
//! is `benches/profiler_accuracy.rs`.
//!
//! Two routes with a 3:1 CPU ratio run as "requests" (work, I/O wait, work, ...) on a
//! two-worker tokio runtime, so polls of both interleave on both threads. The truth is each
//! poll's CPU time measured with the thread's CPU clock. The profiler, which reads the route set
//! per poll, must match the truth within 3 percentage points. The same polls labeled per OS
//! thread (the pyroscope-rs model: a thread tag set when a request starts on the thread and
//! cleared when it ends, applied to everything the thread runs) are far off, which is why labels
//! must be per poll.
#![cfg(all(feature = "profiler", target_os = "linux"))]

#[path = "fixtures/profiler/support.rs"]
mod support;

#[path = "fixtures/profiler/accuracy.rs"]
mod accuracy;

use featgen::Route;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use support::*;

thread_local! {
    /// The per-OS-thread tag of the pyroscope-rs model: 0 none, 1 messaging, 2 search.
    static THREAD_TAG: Cell<usize> = const { Cell::new(0) };
}

/// CPU time (ns) per label: [none, messaging, search].
type Totals = [AtomicU64; 3];

/// Wraps a request: measures each poll's CPU (the truth, by its own route) and what the
/// per-thread model would have labeled it.
struct Measured<F> {
    inner: Pin<Box<F>>,
    label: usize,
    started: bool,
    truth: Arc<Totals>,
    per_thread: Arc<Totals>,
}

impl<F: Future> Future for Measured<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        if !this.started {
            this.started = true;
            THREAD_TAG.with(|tag| tag.set(this.label));
        }
        let model_label = THREAD_TAG.with(Cell::get);
        let before = thread_cpu();
        let poll = this.inner.as_mut().poll(cx);
        let used = (thread_cpu() - before).as_nanos() as u64;
        this.truth[this.label].fetch_add(used, Ordering::Relaxed);
        this.per_thread[model_label].fetch_add(used, Ordering::Relaxed);
        if poll.is_ready() {
            THREAD_TAG.with(|tag| tag.set(0));
        }
        poll
    }
}

/// One request: six rounds of about `cpu` of work (0.5x to 1.5x, so that polls do not line up
/// with the kernel tick), each followed by an I/O wait of 5 to 15 ms.
async fn request(cpu: Duration, seed: u64) {
    let mut random = seed;
    let mut next = move || {
        random = random
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (random >> 33) as f64 / (1u64 << 31) as f64
    };
    for _ in 0..6 {
        burn_cpu(cpu.mul_f64(0.5 + next()));
        tokio::time::sleep(Duration::from_micros(5_000 + (10_000.0 * next()) as u64)).await;
    }
}

fn share(totals: &[u64; 3]) -> f64 {
    totals[1] as f64 / (totals[1] + totals[2]) as f64
}

fn load(totals: &Totals) -> [u64; 3] {
    [0, 1, 2].map(|i| totals[i].load(Ordering::Relaxed))
}

#[test]
fn per_poll_labels_match_per_thread_cpu_clocks_within_3_points() {
    let _serial = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let profiler = profiler_until_stop(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(featgen::profiler::register_current_thread)
        .enable_time()
        .build()
        .unwrap();
    let truth = Arc::new(Totals::default());
    let per_thread = Arc::new(Totals::default());
    runtime.block_on(async {
        let mut tasks = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        for round in 0..600 {
            tick.tick().await;
            for (route, label, cpu) in [
                (&SEND_MESSAGE, 1, Duration::from_micros(2250)),
                (&SEARCH, 2, Duration::from_micros(750)),
            ] {
                let route: &'static Route = route;
                tasks.push(tokio::spawn(Measured {
                    inner: Box::pin(featgen::scope(
                        route,
                        request(cpu, round * 2 + label as u64),
                    )),
                    label,
                    started: false,
                    truth: truth.clone(),
                    per_thread: per_thread.clone(),
                }));
            }
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    drop(runtime);
    let stats = profiler.stop();
    // ~12 CPU-s at 1,000 Hz: about 12,000 samples with perf_event; with timer_create, whose
    // timers the kernel checks only at its tick, at most ~HZ per CPU-second (1,500 to 2,500, a
    // share error sd of 0.9 to 1.1 pp).
    assert!(
        stats.signals > 1200,
        "too few samples for the 3 pp bound: {stats:#?}"
    );
    assert_eq!(
        stats.samples_taken,
        stats.samples_reported + stats.samples_dropped_buffer_full
    );

    let by_feature = cpu_by_feature(&read_profiles(dir.path()));
    let sampled = [
        0,
        by_feature["messaging"] as u64,
        by_feature["search"] as u64,
    ];
    let (truth, per_thread) = (load(&truth), load(&per_thread));
    let (truth_share, sampled_share, per_thread_share) =
        (share(&truth), share(&sampled), share(&per_thread));
    eprintln!(
        "messaging share: truth {truth_share:.4}, profiler {sampled_share:.4}, \
         per-OS-thread model {per_thread_share:.4} (truth ns {truth:?}, sampled ns {sampled:?})"
    );
    assert!(
        (0.7..0.8).contains(&truth_share),
        "the workload is 3:1 by construction: {truth_share}"
    );
    assert!(
        (sampled_share - truth_share).abs() <= 0.03,
        "profiler {sampled_share:.4} vs truth {truth_share:.4}"
    );
    assert!(
        (per_thread_share - truth_share).abs() > 0.10,
        "the per-OS-thread model should be far off: {per_thread_share:.4} vs {truth_share:.4}"
    );
}

/// CPU time of each short run: about 6,000 labeled samples at 1,000 Hz.
const SHORT_RUN_CPU: Duration = Duration::from_secs(6);

/// Asserts that every route's share is within max(1 point, 4 standard errors) of the truth.
///
/// A run of a few seconds cannot show the 1-point target (at 6,000 samples one standard error
/// of a 3:1 share is 0.56 points), so the bound follows the sample size: with an unbiased
/// sampler an error beyond 4 standard errors has a probability of 6e-5, so the test does not
/// flake, while a bias of the size issue #16 measured for the tick-driven `timer_create` timers
/// (up to 5 points over 60 s of CPU) fails it. The standard error is that of independent
/// samples, an upper bound for the engines' one-sample-per-period placement.
fn assert_accurate(name: &str, outcome: &accuracy::Outcome) {
    assert_eq!(
        outcome.stats.sampler,
        "perf_event",
        "the default engine should be perf_event on Linux where perf events are permitted ({})",
        std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid").map_or(
            "perf_event_paranoid unreadable".into(),
            |level| format!("perf_event_paranoid = {}", level.trim())
        )
    );
    assert_conserved(&outcome.stats);
    for label in (0..3).filter(|&label| outcome.truth[label] > 0) {
        let (truth, sampled) = outcome.shares(label);
        let error = outcome.standard_error(truth);
        let bound = (4.0 * error).max(0.01);
        eprintln!(
            "{name}, {}: truth {truth:.4}, profiler {sampled:.4}, error {:+.2} pp, bound {:.2} pp \
             ({:.0} labeled samples, standard error {:.2} pp)",
            accuracy::ROUTES[label].feature.name,
            (sampled - truth) * 100.0,
            bound * 100.0,
            outcome.labeled_samples(),
            error * 100.0
        );
        assert!(
            (sampled - truth).abs() <= bound,
            "{name}: {} share {sampled:.4} vs truth {truth:.4}: {outcome:#?}",
            accuracy::ROUTES[label].feature.name
        );
    }
}

#[test]
fn timer_driven_shares_are_within_the_sampling_error_of_the_truth() {
    let _serial = exclusive();
    let builder = featgen::profiler::Profiler::builder().frequency_hz(1000);
    let outcome = accuracy::run(builder, accuracy::TIMER_DRIVEN, SHORT_RUN_CPU);
    assert_accurate("timer-driven", &outcome);
}

#[test]
fn periodic_shares_are_within_the_sampling_error_of_the_truth() {
    let _serial = exclusive();
    let builder = featgen::profiler::Profiler::builder().frequency_hz(1000);
    let outcome = accuracy::run(builder, accuracy::PERIODIC, SHORT_RUN_CPU);
    assert_accurate("periodic", &outcome);
}
