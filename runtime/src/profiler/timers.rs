//! The per-thread samplers that raise `SIGPROF`, and the engine that chooses between them.
//!
//! Every thread is sampled by its own sampler of its CPU time, so it is sampled in proportion
//! to its own CPU time (one process-wide timer skews badly under parallel load,
//! golang/go#35057). The engine decides which (see [`Engine`]):
//!
//! - `perf_event`: a task-clock perf event per thread ([`super::perf_event`]), whose overflow
//!   comes from a high-resolution timer at any point of the thread's execution;
//! - `timer_create`: a `timer_create(CLOCK_THREAD_CPUTIME_ID, SIGEV_THREAD_ID)` timer per
//!   thread ([`Timer`]), which the kernel checks only at its tick, so samples land on ticks;
//!   with a workload that wakes on timers in step with the tick, that is a bias. It is the
//!   fallback where perf events are not permitted, and the per-thread fallback past the
//!   descriptor budget.
//!
//! The first sample of every sampler is random within one period so that short-lived threads
//! are not biased against; the handler places each next one ([`super::sampler`]).

use super::config::SamplingEngine;
use super::perf_event::PerfEvent;
use super::sampler::{COUNTERS, own_timer_value, random, timespec};
use std::io;
use std::ptr;
use std::sync::atomic::Ordering;

/// The CPU-time clock of thread `tid` of this process (what glibc's `pthread_getcpuclockid`
/// returns; `CLOCK_THREAD_CPUTIME_ID` would be the clock of the *calling* thread, wrong for
/// timers created on another thread's behalf).
pub(super) fn cpu_clock_of(tid: libc::pid_t) -> libc::clockid_t {
    // MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED): per-thread flag 4 | scheduler clock 2.
    (!tid << 3) | 6
}

/// A POSIX timer, deleted when dropped.
pub(super) struct Timer(libc::timer_t);

// SAFETY: a timer id is a process-wide handle usable from any thread.
unsafe impl Send for Timer {}

impl Timer {
    /// Creates a timer on `clock` that raises `SIGPROF` with `value` (for `thread`, or for the
    /// process when `None`) every `period_ns` of CPU time, first after a random part of a period.
    pub(super) fn start(
        clock: libc::clockid_t,
        thread: Option<libc::pid_t>,
        value: usize,
        period_ns: u64,
    ) -> io::Result<Timer> {
        // SAFETY: sigevent is plain data; all-zero is a valid starting value.
        let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
        event.sigev_signo = libc::SIGPROF;
        event.sigev_value = libc::sigval {
            sival_ptr: value as *mut libc::c_void,
        };
        match thread {
            Some(tid) => {
                event.sigev_notify = libc::SIGEV_THREAD_ID;
                event.sigev_notify_thread_id = tid;
            }
            None => event.sigev_notify = libc::SIGEV_SIGNAL,
        }
        let mut id: libc::timer_t = ptr::null_mut();
        // SAFETY: valid pointers to an initialized sigevent and to the output id.
        if unsafe { libc::timer_create(clock, &mut event, &mut id) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let timer = Timer(id);
        let first = 1 + random() % period_ns;
        let spec = libc::itimerspec {
            it_interval: timespec(period_ns),
            it_value: timespec(first),
        };
        // SAFETY: `id` is a live timer and `spec` a valid itimerspec.
        if unsafe { libc::timer_settime(timer.0, 0, &spec, ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(timer)
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // SAFETY: the id is live and owned by this value; deleting also disarms it.
        unsafe { libc::timer_delete(self.0) };
    }
}

/// The engine that raises a thread's samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    /// A perf event on the thread's task clock: sample points independent of the tick.
    PerfEvent,
    /// A `timer_create` timer on the thread's CPU clock, checked at the scheduler tick.
    TimerCreate,
}

impl Engine {
    /// The name in `stats()`, the log and the profiles' `sampler=` comment.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Engine::PerfEvent => "perf_event",
            Engine::TimerCreate => "timer_create",
        }
    }
}

/// The engine for `requested`, probing perf events with `probe` unless timers are requested.
/// With `Auto`, a failing probe selects `timer_create` and its error is returned beside it (the
/// reason for the log); with `PerfEvent` it fails the start.
pub(super) fn choose_engine(
    requested: SamplingEngine,
    probe: impl FnOnce() -> io::Result<()>,
) -> io::Result<(Engine, Option<io::Error>)> {
    match requested {
        SamplingEngine::TimerCreate => Ok((Engine::TimerCreate, None)),
        SamplingEngine::PerfEvent => probe().map(|()| (Engine::PerfEvent, None)).map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("perf events are not permitted ({err}){}", paranoid_hint()),
            )
        }),
        SamplingEngine::Auto => Ok(match probe() {
            Ok(()) => (Engine::PerfEvent, None),
            Err(err) => (Engine::TimerCreate, Some(err)),
        }),
    }
}

/// `; kernel.perf_event_paranoid = N` when readable, for error and log messages.
pub(crate) fn paranoid_hint() -> String {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .map(|level| format!("; kernel.perf_event_paranoid = {}", level.trim()))
        .unwrap_or_default()
}

/// Whether this thread may open a task-clock perf event (one that never fires).
pub(super) fn probe_perf_event() -> io::Result<()> {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    PerfEvent::open(tid, 1 << 62, u64::MAX).map(drop)
}

/// A thread's own sampler; dropping it stops it.
pub(super) enum OwnSampler {
    // The fields are only held for their `Drop`.
    Timer(#[allow(dead_code, reason = "held for its Drop")] Timer),
    PerfEvent(#[allow(dead_code, reason = "held for its Drop")] PerfEvent),
}

/// Whether creating a thread's sampler failed because the thread is gone (not an error).
fn exited(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ESRCH)
}

/// Gives thread `tid` its own sampler of `engine`, accounting from its CPU time `base`: a perf
/// event, or a timer where the event cannot be opened (counted), or none where neither can be
/// created (counted unless the thread exited): the process-wide timer then still covers it.
pub(super) fn arm(
    engine: Engine,
    tid: libc::pid_t,
    base: u64,
    period_ns: u64,
) -> Option<OwnSampler> {
    if engine == Engine::PerfEvent {
        match PerfEvent::open(tid, 1 + random() % period_ns, base) {
            Ok(event) => return Some(OwnSampler::PerfEvent(event)),
            Err(err) if exited(&err) => return None,
            Err(_) => {
                COUNTERS.perf_fallbacks.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let value = own_timer_value(base);
    match Timer::start(cpu_clock_of(tid), Some(tid), value, period_ns) {
        Ok(timer) => Some(OwnSampler::Timer(timer)),
        Err(err) => {
            if !exited(&err) {
                COUNTERS.timer_errors.fetch_add(1, Ordering::Relaxed);
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied() -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::EACCES))
    }

    #[test]
    fn auto_falls_back_to_timers_with_the_reason() {
        let (engine, reason) = choose_engine(SamplingEngine::Auto, || Ok(())).unwrap();
        assert_eq!((engine, reason.is_none()), (Engine::PerfEvent, true));
        let (engine, reason) = choose_engine(SamplingEngine::Auto, denied).unwrap();
        assert_eq!(engine, Engine::TimerCreate);
        assert_eq!(reason.unwrap().raw_os_error(), Some(libc::EACCES));
    }

    #[test]
    fn an_explicit_engine_is_used_or_fails() {
        let err = choose_engine(SamplingEngine::PerfEvent, denied).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("not permitted"), "{err}");
        let (engine, _) = choose_engine(SamplingEngine::TimerCreate, || {
            panic!("timers requested: perf events are not probed")
        })
        .unwrap();
        assert_eq!(engine, Engine::TimerCreate);
    }
}
