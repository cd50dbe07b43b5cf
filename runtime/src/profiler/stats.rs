//! Self-metrics: what the profiler took, reported, sent and dropped.
//!
//! Every sampling period is accounted for: `samples_taken = samples_reported +
//! samples_dropped_buffer_full + samples_pending`, and for each sink `samples_reported =
//! samples_sent + samples_dropped.total() + samples still queued`. Counts are in sampling periods
//! (one signal stands for 1 + its timer overruns), the unit that pprof values multiply by the
//! period.
//!
//! The profiler's own cost is here too: the time spent in its signal handler and the CPU time
//! of its threads ([`Stats::handler_ns`], [`Stats::profiler_threads_cpu_ns`]).

use super::sampler::clock_ns;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the profiler, from [`crate::profiler::ProfilerGuard::stats`] or
/// [`crate::profiler::stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sampling periods taken by the signal handler.
    pub samples_taken: u64,
    /// Periods that went into a built profile (attributed or unattributed).
    pub samples_reported: u64,
    /// Of those, periods with no route (the unattributed bucket).
    pub samples_unattributed: u64,
    /// Periods dropped because the sample buffer was full.
    pub samples_dropped_buffer_full: u64,
    /// Periods taken but not yet in a profile (in the buffer or the interval in progress).
    pub samples_pending: u64,
    /// Signals handled (each carries one or more periods).
    pub signals: u64,
    /// Signals that carried no period: process-wide timer signals on threads that have their
    /// own sampler or used no CPU since their last sample (Linux often delivers them to an idle
    /// thread), and own-sampler signals that completed no period or came from an earlier run.
    pub signals_ignored: u64,
    /// Threads whose own sampler could not be created (they were sampled by the process-wide
    /// timer).
    pub thread_timer_errors: u64,
    /// The sampling engine: `perf_event` or `timer_create` (see
    /// [`crate::profiler::SamplingEngine`]).
    pub sampler: &'static str,
    /// With `perf_event`: threads sampled by a `timer_create` timer instead, because their
    /// event could not be opened or half the descriptor limit was used.
    pub perf_event_fallbacks: u64,
    /// Profiles built (one per interval that had samples).
    pub profiles_built: u64,
    /// Bytes of the preallocated sample buffer.
    pub buffer_bytes: u64,
    /// The profiler's own cost on the sampled threads: nanoseconds spent inside its signal
    /// handler, summed over every signal of the run (the thread's CPU clock read at the
    /// handler's entry and exit, so its system calls count and time the thread waits
    /// descheduled does not). Not included:
    /// the kernel's work around each signal (the timer or perf event overflow, building the
    /// signal frame, returning from it) and the handler's effect on the caches of the code it
    /// interrupts; `benches/profiler_overhead.rs` estimates both.
    pub handler_ns: u64,
    /// CPU time (ns) used by the profiler's own threads since the start: the reporter (draining
    /// the buffer, aggregating, finding new threads, symbolizing, encoding profiles) and the
    /// sinks' sender threads (compressing, writing, sending), from their thread CPU clocks. Each
    /// thread publishes its clock after every unit of work (the reporter at least every 100
    /// ms), so a live value may lag by one unit; the value returned by `stop` is complete. The
    /// per-sink part is in [`SinkStats::thread_cpu_ns`]. With [`Stats::handler_ns`], this is
    /// the profiler's CPU, apart from `start` and `stop` on the calling thread.
    pub profiler_threads_cpu_ns: u64,
    /// Per-sink counters.
    pub sinks: Vec<SinkStats>,
}

/// The CPU clock of one of the profiler's threads, as that thread last published it.
#[derive(Debug, Default)]
pub(crate) struct ThreadCpu(AtomicU64);

impl ThreadCpu {
    /// Publishes the calling thread's CPU time so far; called by the thread it measures.
    pub(crate) fn publish(&self) {
        if let Some(ns) = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID) {
            self.0.store(ns, Ordering::Relaxed);
        }
    }

    /// The CPU time last published, ns.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters of one sink.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// `dir`, `pyroscope-push` or `pyroscope-ingest`.
    pub sink: &'static str,
    /// Profiles delivered.
    pub profiles_sent: u64,
    /// Sampling periods in the delivered profiles.
    pub samples_sent: u64,
    /// Failed attempts (each retry counts).
    pub send_failures: u64,
    /// Profiles queued or being sent.
    pub profiles_pending: u64,
    /// Profiles dropped, by reason.
    pub profiles_dropped: Drops,
    /// Sampling periods in the dropped profiles, by reason.
    pub samples_dropped: Drops,
    /// The last failure (status and a bounded excerpt of the response; never credentials).
    pub last_error: Option<String>,
    /// CPU time (ns) of the sink's sender thread, as of its last send (see
    /// [`Stats::profiler_threads_cpu_ns`]).
    pub thread_cpu_ns: u64,
}

/// Counts by drop reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    /// The queue was full and this was the oldest entry.
    pub queue_full: u64,
    /// Older than the server accepts (`max_profile_age`).
    pub expired: u64,
    /// Refused by the destination for good (HTTP 4xx other than 408/429).
    pub rejected: u64,
    /// Still unsent when the shutdown deadline passed.
    pub shutdown: u64,
}

impl Drops {
    /// The sum over all reasons.
    pub fn total(&self) -> u64 {
        self.queue_full + self.expired + self.rejected + self.shutdown
    }
}
