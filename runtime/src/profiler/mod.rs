//! The sampling CPU profiler: CPU samples labeled with the feature and endpoint that was running.
//!
//! ```no_run
//! let builder = featgen::profiler::Profiler::builder()
//!     .service_name("api")
//!     .label("deployment", "prod-eu");
//! # #[cfg(feature = "pyroscope")]
//! // With the `pyroscope` feature (HTTPS: the service's rustls crypto provider, see the README).
//! let builder = builder
//!     .pyroscope(featgen::profiler::Pyroscope::new("https://profiles.example.com").tenant_id("t1"));
//! let profiler = builder
//!     .from_env()? // FEATGEN_PROFILER_* variables override the code
//!     .start()?;
//! // ... run the service; dropping the guard stops sampling and flushes.
//! let stats = profiler.stop();
//! assert_eq!(stats.samples_taken, stats.samples_reported + stats.samples_dropped_buffer_full);
//! # Ok::<(), featgen::profiler::Error>(())
//! ```
//!
//! How it works:
//!
//! - **Sampling**: every thread gets its own sampler of its CPU time: a perf event on its task
//!   clock where permitted (samples at random points of its CPU time, independent of the
//!   scheduler tick), else a `timer_create(CLOCK_THREAD_CPUTIME_ID, SIGEV_THREAD_ID)` timer
//!   (see [`SamplingEngine`]). Threads that run a route are
//!   *registered* automatically the first time a route is set on them (or explicitly with
//!   [`register_current_thread`], e.g. from tokio's `on_thread_start`) and get full stacks;
//!   other threads are found every 100 ms and sampled too (interrupted function only), with a
//!   process-wide CPU timer covering them until then. The `SIGPROF` handler reads the current
//!   route ([`crate::current`]'s thread-local, set per poll for async code) and walks frame
//!   pointers into a preallocated lock-free buffer.
//! - **Reporting**: a reporter thread empties the buffer every 100 ms, aggregates per (route,
//!   stack), and at every interval boundary (wall-clock multiples of the interval) symbolizes
//!   the distinct addresses and builds a pprof profile with sample type `cpu/nanoseconds` and
//!   per-sample labels `feature`, `endpoint`, `feature_group`, `team`, `tier` and the stable
//!   `feature_id`. Samples taken while no route was set carry none of them: the unattributed
//!   bucket. A second sample type, `requests/count`, carries the calls each route completed in
//!   the interval (taken from the routes' counters at the boundary), one sample per route with
//!   the same labels.
//! - **Sinks**: a local directory of gzip pprof files (the default; each file also carries
//!   `service_name` and the static labels on every sample, so it stands alone), Pyroscope's
//!   push API, or its legacy `/ingest`; each behind a bounded queue with retries (see [`Stats`] for the counts).
//!
//! Stacks come from frame pointers: build services with `-C force-frame-pointers=yes` (the
//! shipped std has them). Code without them shows up with missing or skipped callers; the
//! function that was running and the route labels are always right.

mod config;
mod perf_event;
pub mod proto;
#[cfg(feature = "pyroscope")]
mod pyroscope_destination;
mod report;
mod ring;
mod sampler;
mod sink;
mod stats;
mod symbols;
mod threads;
mod timers;
mod unwind;

pub use config::{ENV_VARS, Error, ProfilerBuilder, SamplingEngine};
#[cfg(feature = "pyroscope")]
pub use pyroscope_destination::{Protocol, Pyroscope};
use stats::ThreadCpu;
pub use stats::{Drops, SinkStats, Stats};
pub use threads::register_current_thread;

use report::{Aggregate, ReportSettings};
use ring::Ring;
use sampler::COUNTERS;
use sink::SinkWorker;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use threads::Sampler;
use timers::Engine;

/// How often the reporter empties the sample buffer.
const DRAIN_EVERY: Duration = Duration::from_millis(100);

/// Entry point: `Profiler::builder()...start()`.
#[derive(Debug)]
pub struct Profiler;

impl Profiler {
    /// A builder with the defaults: 100 Hz, 10 s intervals, the local directory sink.
    pub fn builder() -> ProfilerBuilder {
        ProfilerBuilder::default()
    }
}

/// State shared by the guard, the reporter thread and [`stats`].
struct Live {
    samples_reported: AtomicU64,
    samples_unattributed: AtomicU64,
    profiles_built: AtomicU64,
    buffer_bytes: u64,
    engine: Engine,
    sinks: Mutex<Vec<SinkWorker>>,
    /// The reporter thread's CPU time.
    reporter_cpu: ThreadCpu,
}

impl Live {
    fn sinks(&self) -> MutexGuard<'_, Vec<SinkWorker>> {
        self.sinks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The counters now; `sinks` is passed in because `stop` has already taken them out.
    fn stats(&self, sinks: Vec<SinkStats>) -> Stats {
        let taken = COUNTERS.taken.load(Ordering::Relaxed);
        let dropped = COUNTERS.dropped_buffer_full.load(Ordering::Relaxed);
        let reported = self.samples_reported.load(Ordering::Relaxed);
        Stats {
            samples_taken: taken,
            samples_reported: reported,
            samples_unattributed: self.samples_unattributed.load(Ordering::Relaxed),
            samples_dropped_buffer_full: dropped,
            samples_pending: taken.saturating_sub(reported + dropped),
            signals: COUNTERS.signals.load(Ordering::Relaxed),
            signals_ignored: COUNTERS.ignored.load(Ordering::Relaxed),
            thread_timer_errors: COUNTERS.timer_errors.load(Ordering::Relaxed),
            sampler: self.engine.name(),
            perf_event_fallbacks: COUNTERS.perf_fallbacks.load(Ordering::Relaxed),
            profiles_built: self.profiles_built.load(Ordering::Relaxed),
            buffer_bytes: self.buffer_bytes,
            handler_ns: COUNTERS.handler_ns.load(Ordering::Relaxed),
            profiler_threads_cpu_ns: self.reporter_cpu.get()
                + sinks.iter().map(|sink| sink.thread_cpu_ns).sum::<u64>(),
            sinks,
        }
    }

    /// Builds the interval's profile and queues it on every sink.
    fn flush(
        &self,
        aggregate: Aggregate,
        end: SystemTime,
        settings: &ReportSettings,
        symbolizer: &mut symbols::Symbolizer,
    ) {
        if aggregate.is_empty() {
            return;
        }
        let unattributed = aggregate.unattributed();
        let report = Arc::new(aggregate.finish(end, settings, symbolizer));
        for sink in self.sinks().iter() {
            sink.enqueue(report.clone());
        }
        self.samples_reported
            .fetch_add(report.samples, Ordering::Relaxed);
        self.samples_unattributed
            .fetch_add(unattributed, Ordering::Relaxed);
        self.profiles_built.fetch_add(1, Ordering::Relaxed);
    }
}

/// The running profiler, if any (there is one `SIGPROF`, so one profiler per process).
static LIVE: Mutex<Option<Arc<Live>>> = Mutex::new(None);

fn live() -> MutexGuard<'static, Option<Arc<Live>>> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The counters of the running profiler, `None` when none runs.
pub fn stats() -> Option<Stats> {
    let live = live().clone()?;
    let sinks = live.sinks().iter().map(SinkWorker::stats).collect();
    Some(live.stats(sinks))
}

/// What [`ProfilerGuard::stop`] has to end.
struct Running {
    sampler: Sampler,
    reporter: JoinHandle<()>,
    stop: mpsc::Sender<()>,
}

/// A running profiler. Dropping it (or [`ProfilerGuard::stop`]) stops sampling, builds the
/// last partial interval's profile and gives the sinks the shutdown timeout to send it.
#[must_use = "the profiler stops when the guard is dropped"]
pub struct ProfilerGuard {
    live: Arc<Live>,
    running: Option<Running>,
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for ProfilerGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfilerGuard")
            .field("stats", &self.stats())
            .finish()
    }
}

impl ProfilerGuard {
    /// The counters now.
    pub fn stats(&self) -> Stats {
        let sinks = self.live.sinks().iter().map(SinkWorker::stats).collect();
        self.live.stats(sinks)
    }

    /// Stops, flushes, and returns the final counters, in which every period taken is
    /// reported or counted as dropped (`samples_pending` is 0).
    pub fn stop(mut self) -> Stats {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Stats {
        let Some(running) = self.running.take() else {
            return self.stats();
        };
        // No sample is taken after this, and every sample taken is in the buffer.
        drop(running.sampler.stop());
        // The reporter drains the buffer, flushes the partial interval and exits.
        let _ = running.stop.send(());
        let _ = running.reporter.join();
        let deadline = Instant::now() + self.shutdown_timeout;
        let sinks = std::mem::take(&mut *self.live.sinks());
        let sinks = sinks.into_iter().map(|sink| sink.close(deadline)).collect();
        *live() = None;
        self.live.stats(sinks)
    }
}

impl Drop for ProfilerGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The reporter thread: drains the buffer, aggregates, and flushes at interval boundaries.
fn report_loop(
    live: &Live,
    ring: &Ring,
    settings: &ReportSettings,
    interval: Duration,
    stop: &mpsc::Receiver<()>,
) {
    let mut symbolizer = symbols::Symbolizer::new();
    let mut aggregate = Aggregate::new(SystemTime::now());
    let mut next_flush = next_boundary(SystemTime::now(), interval);
    loop {
        let wait = next_flush
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(DRAIN_EVERY);
        let stopping = !matches!(stop.recv_timeout(wait), Err(RecvTimeoutError::Timeout));
        let now = SystemTime::now();
        let flushing = stopping || now >= next_flush;
        // The whole buffer once per interval (and at the stop), else only what was written since.
        if flushing {
            ring.drain(|sample| aggregate.add(sample));
        } else {
            ring.drain_recent(|sample| aggregate.add(sample));
        }
        if !stopping {
            threads::scan_threads();
        }
        if flushing {
            let end = if stopping { now } else { next_flush };
            crate::calls::take(|route, count| aggregate.add_calls(route, count));
            let done = std::mem::replace(&mut aggregate, Aggregate::new(end));
            live.flush(done, end, settings, &mut symbolizer);
            next_flush = next_boundary(now, interval);
        }
        live.reporter_cpu.publish();
        if stopping {
            return;
        }
    }
}

/// The first multiple of `interval` since the Unix epoch after `now`.
fn next_boundary(now: SystemTime, interval: Duration) -> SystemTime {
    let since_epoch = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos();
    let step = interval.as_nanos().max(1);
    let next = (since_epoch / step + 1) * step;
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_wall_clock_multiples() {
        let at = |secs: u64, millis: u64| {
            UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
        };
        assert_eq!(
            next_boundary(at(1_000_003, 0), Duration::from_secs(10)),
            at(1_000_010, 0)
        );
        assert_eq!(
            next_boundary(at(1_000_010, 0), Duration::from_secs(10)),
            at(1_000_020, 0)
        );
        assert_eq!(
            next_boundary(at(5, 999), Duration::from_millis(500)),
            at(6, 0)
        );
    }
}
