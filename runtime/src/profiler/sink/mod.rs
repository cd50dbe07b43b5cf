//! Where profiles go, and the bounded, retrying queue in front of each destination.
//!
//! Each sink runs on its own thread behind its own queue, so a slow or down collector delays
//! only its own uploads: the reporter never blocks, memory is bounded by the queue capacity
//! (the oldest profile is dropped, and counted, when full), failed sends are retried with
//! exponential backoff, and a profile older than the server accepts is dropped as expired.

pub(crate) mod dir;
#[cfg(feature = "pyroscope")]
pub(crate) mod pyroscope;

use super::report::Report;
use super::stats::{Drops, SinkStats, ThreadCpu};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// Why a send failed.
#[derive(Debug)]
pub(crate) enum SendError {
    /// Worth retrying: the destination is down, slow, overloaded or rate-limiting.
    Retry(String),
    /// The destination refused this profile for good (e.g. HTTP 400): retrying cannot help.
    Reject(String),
}

/// A destination for profiles.
pub(crate) trait Sink: Send + 'static {
    /// Delivers one report; called again for the same report after a retryable failure.
    fn send(&mut self, report: &Report) -> Result<(), SendError>;
}

/// Queue and retry settings shared by every sink.
#[derive(Clone, Debug)]
pub(crate) struct QueueSettings {
    /// Profiles waiting per sink before the oldest is dropped.
    pub capacity: usize,
    /// Profiles whose window ended longer ago than this are dropped instead of sent.
    pub max_age: Duration,
    /// First retry delay; doubled after each failure up to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
}

/// Why a profile was dropped.
#[derive(Clone, Copy)]
enum DropReason {
    QueueFull,
    Expired,
    Rejected,
    Shutdown,
}

/// Counters of one drop reason, in profiles and in sampling periods.
#[derive(Default)]
struct DropCounters {
    profiles: [AtomicU64; 4],
    samples: [AtomicU64; 4],
}

/// What the worker and the owner of a sink share.
struct Shared {
    name: &'static str,
    queue: Mutex<Queue>,
    wake: Condvar,
    sent_profiles: AtomicU64,
    sent_samples: AtomicU64,
    failures: AtomicU64,
    drops: DropCounters,
    last_error: Mutex<Option<String>>,
    /// The sender thread's CPU time.
    cpu: ThreadCpu,
}

/// The pending reports and the shutdown deadline.
struct Queue {
    reports: VecDeque<Arc<Report>>,
    /// Whether a report is being sent right now (it is no longer in `reports`).
    in_flight: bool,
    /// Set by [`SinkWorker::close`]: stop retrying and drop what is left at this instant.
    closing: Option<Instant>,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn dropped(&self, report: &Report, reason: DropReason) {
        self.drops.profiles[reason as usize].fetch_add(1, Ordering::Relaxed);
        self.drops.samples[reason as usize].fetch_add(report.samples, Ordering::Relaxed);
    }

    fn failed(&self, message: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(message);
    }

    /// Sleeps for `delay`, returning early with `true` once the shutdown deadline has passed.
    fn pause(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        let mut queue = self.queue();
        loop {
            let now = Instant::now();
            if queue.closing.is_some_and(|deadline| now >= deadline) {
                return true;
            }
            if now >= until {
                return false;
            }
            let limit = queue.closing.map_or(until, |deadline| deadline.min(until));
            queue = self
                .wake
                .wait_timeout(queue, limit - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

/// A sink with its queue and thread.
pub(crate) struct SinkWorker {
    shared: Arc<Shared>,
    capacity: usize,
    thread: Option<JoinHandle<()>>,
}

impl SinkWorker {
    /// Starts the thread that sends to `sink`.
    pub(crate) fn spawn(
        name: &'static str,
        sink: Box<dyn Sink>,
        settings: QueueSettings,
    ) -> std::io::Result<SinkWorker> {
        let shared = Arc::new(Shared {
            name,
            queue: Mutex::new(Queue {
                reports: VecDeque::with_capacity(settings.capacity),
                in_flight: false,
                closing: None,
            }),
            wake: Condvar::new(),
            sent_profiles: AtomicU64::new(0),
            sent_samples: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            drops: DropCounters::default(),
            last_error: Mutex::new(None),
            cpu: ThreadCpu::default(),
        });
        let capacity = settings.capacity.max(1);
        let thread = std::thread::Builder::new()
            .name(format!("featgen-sink-{name}"))
            .spawn({
                let shared = shared.clone();
                move || run(&shared, sink, &settings)
            })?;
        Ok(SinkWorker {
            shared,
            capacity,
            thread: Some(thread),
        })
    }

    /// Queues a report, dropping the oldest queued one when full.
    pub(crate) fn enqueue(&self, report: Arc<Report>) {
        let mut queue = self.shared.queue();
        if queue.reports.len() >= self.capacity
            && let Some(oldest) = queue.reports.pop_front()
        {
            self.shared.dropped(&oldest, DropReason::QueueFull);
        }
        queue.reports.push_back(report);
        drop(queue);
        self.shared.wake.notify_all();
    }

    /// Sends what is queued until `deadline`, drops the rest (counted) and joins the thread.
    pub(crate) fn close(mut self, deadline: Instant) -> SinkStats {
        self.shared.queue().closing = Some(deadline);
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            // A panic in the sink thread already lost its report; the counters are still valid.
            let _ = thread.join();
        }
        self.stats()
    }

    /// Current counters.
    pub(crate) fn stats(&self) -> SinkStats {
        let shared = &self.shared;
        let drops = |counters: &[AtomicU64; 4]| Drops {
            queue_full: counters[DropReason::QueueFull as usize].load(Ordering::Relaxed),
            expired: counters[DropReason::Expired as usize].load(Ordering::Relaxed),
            rejected: counters[DropReason::Rejected as usize].load(Ordering::Relaxed),
            shutdown: counters[DropReason::Shutdown as usize].load(Ordering::Relaxed),
        };
        let queue = shared.queue();
        SinkStats {
            sink: shared.name,
            profiles_sent: shared.sent_profiles.load(Ordering::Relaxed),
            samples_sent: shared.sent_samples.load(Ordering::Relaxed),
            send_failures: shared.failures.load(Ordering::Relaxed),
            profiles_pending: queue.reports.len() as u64 + u64::from(queue.in_flight),
            profiles_dropped: drops(&shared.drops.profiles),
            samples_dropped: drops(&shared.drops.samples),
            last_error: shared
                .last_error
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
            thread_cpu_ns: shared.cpu.get(),
        }
    }
}

impl Drop for SinkWorker {
    fn drop(&mut self) {
        if self.thread.is_some() {
            // Not closed explicitly (e.g. start failed half-way): stop right away.
            self.shared.queue().closing = Some(Instant::now());
            self.shared.wake.notify_all();
        }
    }
}

/// The sink thread: takes reports oldest first and sends each until it succeeds, is rejected,
/// expires, or shutdown time is up.
fn run(shared: &Shared, mut sink: Box<dyn Sink>, settings: &QueueSettings) {
    loop {
        let report = {
            let mut queue = shared.queue();
            queue.in_flight = false;
            loop {
                let past_deadline = queue
                    .closing
                    .is_some_and(|deadline| Instant::now() >= deadline);
                if past_deadline {
                    for report in std::mem::take(&mut queue.reports) {
                        shared.dropped(&report, DropReason::Shutdown);
                    }
                }
                if let Some(report) = queue.reports.pop_front() {
                    queue.in_flight = true;
                    break report;
                }
                if queue.closing.is_some() {
                    shared.cpu.publish();
                    return;
                }
                queue = shared
                    .wake
                    .wait(queue)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        deliver(shared, sink.as_mut(), settings, &report);
        shared.cpu.publish();
    }
}

/// Sends one report with retries; every outcome is counted exactly once.
fn deliver(shared: &Shared, sink: &mut dyn Sink, settings: &QueueSettings, report: &Report) {
    let mut backoff = settings.backoff_min;
    loop {
        let age = SystemTime::now()
            .duration_since(report.end)
            .unwrap_or(Duration::ZERO);
        if age > settings.max_age {
            shared.dropped(report, DropReason::Expired);
            return;
        }
        match sink.send(report) {
            Ok(()) => {
                shared.sent_profiles.fetch_add(1, Ordering::Relaxed);
                shared
                    .sent_samples
                    .fetch_add(report.samples, Ordering::Relaxed);
                return;
            }
            Err(SendError::Reject(message)) => {
                shared.failed(message);
                shared.dropped(report, DropReason::Rejected);
                return;
            }
            Err(SendError::Retry(message)) => shared.failed(message),
        }
        if shared.pause(jitter(backoff)) {
            shared.dropped(report, DropReason::Shutdown);
            return;
        }
        backoff = (backoff * 2).min(settings.backoff_max);
    }
}

/// `delay` scaled by a random factor in [0.5, 1.0), so that many instances that failed
/// together do not retry together.
fn jitter(delay: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .subsec_nanos();
    delay.mul_f64(0.5 + f64::from(nanos % 1000) / 2000.0)
}
