//! Which threads are sampled: registration, the `/proc/self/task` scan, and a run's start and
//! stop, which arm and disarm every thread's sampler ([`super::timers`]).
//!
//! - *registered* threads (those that ran a route, or called [`register_current_thread`]) get
//!   their sampler at registration and have full frame-pointer stacks, bounded by their stack
//!   range;
//! - other threads are found by scanning `/proc/self/task` every 100 ms and get a sampler too;
//!   their stack bounds are unknown, so their samples hold the interrupted function only.
//!   A thread's perf event is closed when it exits (at its exit for registered threads, at the
//!   next scan for others).
//!
//! A process-wide `CLOCK_PROCESS_CPUTIME_ID` timer covers threads between their start and the
//! next scan (the handler counts nothing twice, see [`super::sampler`]).

use super::config::SamplingEngine;
use super::ring::Ring;
use super::sampler::{self, PROCESS_TIMER, REGISTERED, STACK, clock_ns};
use super::timers::{
    Engine, OwnSampler, Timer, arm, choose_engine, cpu_clock_of, probe_perf_event,
};
use std::cell::Cell;
use std::io;
use std::ops::Range;
use std::ptr;
use std::sync::atomic::{Ordering, compiler_fence};
use std::sync::{Arc, Mutex, MutexGuard};

thread_local! {
    /// Unregisters the thread when it exits (a destructor, so never touched by the handler).
    static EXIT: ExitGuard = const { ExitGuard };
}

/// A thread known to the profiler.
struct ThreadEntry {
    tid: libc::pid_t,
    /// Its own sampler while the profiler runs.
    sampler: Option<OwnSampler>,
}

/// The threads known to the profiler with their samplers, and the process-wide timer; only
/// touched in normal (non-signal) context.
struct Registry {
    /// The sampling period while running, `None` when stopped.
    period_ns: Option<u64>,
    /// The engine of the running profiler.
    engine: Engine,
    /// Registered threads.
    threads: Vec<ThreadEntry>,
    /// Threads found by [`scan_threads`], with their samplers; emptied at stop.
    scanned: Vec<ThreadEntry>,
    process: Option<Timer>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    period_ns: None,
    engine: Engine::TimerCreate,
    threads: Vec::new(),
    scanned: Vec::new(),
    process: None,
});

/// Locks [`REGISTRY`]; a panic while holding it leaves consistent data, so poisoning is ignored.
fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Unregisters its thread at thread exit.
struct ExitGuard;

impl Drop for ExitGuard {
    fn drop(&mut self) {
        REGISTERED.with(|registered| registered.set(false));
        compiler_fence(Ordering::SeqCst);
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        // Dropping the entry closes the thread's perf event or deletes its timer.
        registry().threads.retain(|thread| thread.tid != tid);
    }
}

/// The threads of this process.
fn live_threads() -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Gives every thread of the process that has no sampler yet one of its own, and stops the
/// samplers of threads that exited (closing their descriptors). Run by the reporter every
/// 100 ms while sampling.
pub(crate) fn scan_threads() {
    let live = live_threads();
    let mut registry = registry();
    // Threads born since the start: all their CPU time is within the run.
    arm_unknown(&mut registry, &live, false);
}

/// The body of [`scan_threads`] on the listed `live` threads. `at_start`: they predate the
/// run, so their accounting starts at their CPU time now.
fn arm_unknown(registry: &mut Registry, live: &[libc::pid_t], at_start: bool) {
    let Some(period_ns) = registry.period_ns else {
        return;
    };
    registry.scanned.retain(|thread| live.contains(&thread.tid));
    for &tid in live {
        let known = |list: &[ThreadEntry]| list.iter().any(|thread| thread.tid == tid);
        if !known(&registry.threads) && !known(&registry.scanned) {
            let base = if at_start {
                clock_ns(cpu_clock_of(tid)).unwrap_or(0)
            } else {
                0
            };
            let sampler = arm(registry.engine, tid, base, period_ns);
            registry.scanned.push(ThreadEntry { tid, sampler });
        }
    }
}

/// The bounds of the calling thread's stack, `0..0` when unknown.
fn current_stack() -> Range<usize> {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: pthread_getattr_np initializes `attr` on success; it is destroyed below.
    if unsafe { libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) } != 0 {
        return 0..0;
    }
    let (mut base, mut size) = (ptr::null_mut(), 0);
    // SAFETY: `attr` was initialized above.
    let got = unsafe { libc::pthread_attr_getstack(attr.as_ptr(), &mut base, &mut size) };
    // SAFETY: `attr` was initialized above and is not used afterwards.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    if got != 0 {
        return 0..0;
    }
    base as usize..base as usize + size
}

/// Registers the calling thread: its samples get full stacks (its stack bounds are known).
/// Idempotent and cheap after the first call.
///
/// Threads are registered automatically the first time a route is set on them while the
/// profiler is (or was once) started; call this from thread-start hooks of runtimes whose
/// worker threads should have full stacks from their first sample, e.g. tokio's
/// `Builder::on_thread_start(featgen::profiler::register_current_thread)`. Registration lasts
/// until the thread exits, across profiler restarts.
pub fn register_current_thread() {
    if REGISTERED.with(Cell::get) {
        return;
    }
    let stack = current_stack();
    STACK.with(|cell| cell.set((stack.start, stack.end)));
    // Make sure the guard's destructor is registered for this thread.
    EXIT.with(|_| {});
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let mut registry = registry();
    let entry = match registry.scanned.iter().position(|thread| thread.tid == tid) {
        // Found by a scan (it predates the run, or was born since): its sampler carries on.
        Some(index) => registry.scanned.swap_remove(index),
        None => {
            // While running, a thread no scan has seen yet was born after the start: its
            // accounting starts at 0 (what the process-wide timer took is left out).
            let sampler = registry
                .period_ns
                .and_then(|period| arm(registry.engine, tid, 0, period));
            ThreadEntry { tid, sampler }
        }
    };
    registry.threads.push(entry);
    compiler_fence(Ordering::SeqCst);
    REGISTERED.with(|registered| registered.set(true));
}

/// A running sampler; [`Sampler::stop`] ends sampling.
pub(crate) struct Sampler {
    ring: Arc<Ring>,
    engine: Engine,
}

impl Sampler {
    /// Starts sampling every `period_ns` of CPU time into a buffer of `capacity` samples, with
    /// the engine `requested` selects; with `Auto` and perf events not permitted, also returns
    /// why. The caller guarantees that at most one sampler exists at a time.
    pub(crate) fn start(
        period_ns: u64,
        capacity: usize,
        requested: SamplingEngine,
    ) -> io::Result<(Sampler, Option<io::Error>)> {
        sampler::install_handler()?;
        let (engine, fallback_reason) = choose_engine(requested, probe_perf_event)?;
        let ring = Arc::new(Ring::new(capacity));
        sampler::enable(&ring, period_ns);
        let live = live_threads();
        {
            let mut registry = registry();
            registry.engine = engine;
            for index in 0..registry.threads.len() {
                let tid = registry.threads[index].tid;
                let base = clock_ns(cpu_clock_of(tid)).unwrap_or(0);
                registry.threads[index].sampler = arm(engine, tid, base, period_ns);
            }
            // Per-thread samplers first, so no registered thread ever runs without one while
            // the process-wide timer exists.
            let process = Timer::start(
                libc::CLOCK_PROCESS_CPUTIME_ID,
                None,
                PROCESS_TIMER,
                period_ns,
            );
            match process {
                Ok(process) => {
                    registry.process = Some(process);
                    registry.period_ns = Some(period_ns);
                }
                Err(err) => {
                    registry
                        .threads
                        .iter_mut()
                        .for_each(|thread| thread.sampler = None);
                    drop(registry);
                    sampler::disable();
                    return Err(err);
                }
            }
            // Under the same lock as the above, so that a thread registering concurrently
            // either is found here (and accounts from now) or was born after the listing.
            arm_unknown(&mut registry, &live, true);
        }
        crate::context::set_first_route_hook(register_current_thread);
        register_current_thread();
        Ok((Sampler { ring, engine }, fallback_reason))
    }

    /// The buffer the handler writes into.
    pub(crate) fn ring(&self) -> &Arc<Ring> {
        &self.ring
    }

    /// The engine sampling.
    pub(crate) fn engine(&self) -> Engine {
        self.engine
    }

    /// Stops every sampler and waits until no handler is still writing; afterwards the ring
    /// holds every sample that will ever be taken by this run.
    pub(crate) fn stop(self) -> Arc<Ring> {
        let samplers: Vec<OwnSampler> = {
            let mut registry = registry();
            registry.process = None;
            registry.period_ns = None;
            let scanned = std::mem::take(&mut registry.scanned);
            let registered = registry
                .threads
                .iter_mut()
                .map(|thread| thread.sampler.take());
            registered
                .collect::<Vec<_>>()
                .into_iter()
                .chain(scanned.into_iter().map(|thread| thread.sampler))
                .flatten()
                .collect()
        };
        // Disabled before the descriptors close: a handler past its check must not see its
        // descriptor's number reused.
        sampler::disable();
        drop(samplers);
        self.ring
    }
}
