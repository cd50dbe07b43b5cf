//! Sampling: the `SIGPROF` handler, the per-thread samplers that raise it, and thread
//! registration.
//!
//! Every thread is sampled by its own sampler of its CPU time, so it is sampled in proportion
//! to its own CPU time (one process-wide timer skews badly under parallel load,
//! golang/go#35057). The engine decides which (see [`Engine`]):
//!
//! - `perf_event`: a task-clock perf event per thread ([`super::perf_event`]), whose overflow
//!   comes from a high-resolution timer at any point of the thread's execution;
//! - `timer_create`: a `timer_create(CLOCK_THREAD_CPUTIME_ID, SIGEV_THREAD_ID)` timer per
//!   thread, which the kernel checks only at its tick, so samples land on ticks; with a
//!   workload that wakes on timers in step with the tick, that is a bias. It is the fallback
//!   where perf events are not permitted, and the per-thread fallback past the descriptor
//!   budget.
//!
//! Either way, each sample places the next one at a random point of the next period of the
//! thread's CPU time and is weighed by the periods it completes ([`own_weight`]): unbiased for
//! any rhythm of the workload, and all CPU time accounted for.
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
//! next scan. Linux delivers its signal to some thread of the process, often an idle one, so a
//! thread that receives it accounts only its own CPU time since its last such sample (read from
//! its CPU clock), and a thread with its own sampler ignores it: nothing is counted twice. The
//! first sample of every sampler is random within one period so that short-lived threads are
//! not biased against.
//!
//! The handler is async-signal-safe: it reads a few thread-locals without destructors, the
//! thread's CPU clock and atomics, makes one system call to place the next sample, walks the
//! frame pointers, writes into the preallocated [`Ring`] and bumps atomic counters. It never
//! allocates, locks or calls the system unwinder, and it restores `errno`.

use super::config::SamplingEngine;
use super::perf_event::{self, PerfEvent, PollSigInfo};
use super::ring::Ring;
use super::unwind::{self, Registers};
use std::cell::Cell;
use std::io;
use std::ops::Range;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, compiler_fence};
use std::sync::{Arc, Mutex, MutexGuard, Once};

/// Kind of timer, in the low bits of its `sigval`: the process-wide fallback timer.
const PROCESS_TIMER: usize = 1;
/// A thread's own timer; above the kind its `sigval` holds the low [`RUN_BITS`] of the run it
/// belongs to, and above those the thread's CPU time (ns) from which it accounts (the
/// accounting base, see [`own_weight`]), capped at [`MAX_TIMER_BASE`].
const OWN_TIMER: usize = 2;
const KIND_BITS: u32 = 2;
const RUN_BITS: u32 = 8;
/// The largest base a timer's `sigval` holds: 2^54 ns, 208 days of one thread's CPU time.
const MAX_TIMER_BASE: u64 = (1 << (usize::BITS - KIND_BITS - RUN_BITS)) - 1;

/// Whether samples are being taken; the handler does nothing while false.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// Handlers currently running past their `ENABLED` check; `stop` waits for zero.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// The buffer of the running profiler, null when stopped.
static RING: AtomicPtr<Ring> = AtomicPtr::new(ptr::null_mut());
/// The sampling period of the running profiler, in ns of CPU time.
static PERIOD_NS: AtomicU64 = AtomicU64::new(1);
/// Number of the current run (incremented by every start), so thread-locals written during an
/// earlier run are recognized as stale.
static RUN: AtomicU64 = AtomicU64::new(0);

/// Counters written by the handler, read by the reporter and by `stats()`.
pub(crate) struct Counters {
    /// Sampling periods taken (the weight of every sample handled).
    pub taken: AtomicU64,
    /// Periods taken but dropped because the buffer was full.
    pub dropped_buffer_full: AtomicU64,
    /// Signals handled (one per sample record, whatever its weight).
    pub signals: AtomicU64,
    /// Signals that carried no period: process-wide ones on a thread with its own sampler or
    /// without CPU use since its last sample, a thread's own ones that came early, stale ones.
    pub ignored: AtomicU64,
    /// Threads whose own sampler could not be created (they fall back to the process timer).
    pub timer_errors: AtomicU64,
    /// Threads of a `perf_event` run sampled by a `timer_create` timer instead (their event
    /// could not be opened, or the descriptor budget was used up).
    pub perf_fallbacks: AtomicU64,
}

/// The counters of the current (or last) run.
pub(crate) static COUNTERS: Counters = Counters {
    taken: AtomicU64::new(0),
    dropped_buffer_full: AtomicU64::new(0),
    signals: AtomicU64::new(0),
    ignored: AtomicU64::new(0),
    timer_errors: AtomicU64::new(0),
    perf_fallbacks: AtomicU64::new(0),
};

thread_local! {
    /// Whether this thread registered (and so has its own sampler while the profiler runs).
    /// Const-initialized without destructor: readable in the handler.
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
    /// This thread's stack, `0..0` until registered; bounds the frame-pointer walk.
    static STACK: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// Accounting of this thread's own sampler: the run, the CPU time (ns) it counts from, and
    /// the periods of CPU time after that already credited to samples.
    static OWN: Cell<(u64, u64, u64)> = const { Cell::new((0, 0, 0)) };
    /// For the process-wide timer: the run, and this thread's CPU time (ns) accounted so far.
    static ACCOUNTED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    /// Unregisters the thread when it exits (a destructor, so never touched by the handler).
    static EXIT: ExitGuard = const { ExitGuard };
}

/// The `siginfo_t` layout of a POSIX timer signal (`_sifields._timer`), which the libc crate
/// does not expose for glibc.
#[repr(C)]
struct TimerSigInfo {
    si_signo: libc::c_int,
    si_errno: libc::c_int,
    si_code: libc::c_int,
    /// The union that follows is pointer-aligned.
    #[cfg(target_pointer_width = "64")]
    _pad: libc::c_int,
    /// The kernel's id of the timer.
    si_tid: libc::c_int,
    si_overrun: libc::c_int,
    si_value: libc::sigval,
}

/// The signal handler.
extern "C" fn on_sigprof(
    _signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: __errno_location returns this thread's errno slot.
    let errno = unsafe { *libc::__errno_location() };
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    if ENABLED.load(Ordering::SeqCst) {
        // SAFETY: the kernel passes a valid siginfo and ucontext to an SA_SIGINFO handler.
        unsafe { take_sample(info, context) };
    }
    ACTIVE.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: as above; the handler must not leak its own errno into the interrupted code.
    unsafe { *libc::__errno_location() = errno };
}

/// How the handler places the next sample of a thread's own sampler.
#[derive(Clone, Copy)]
enum Rearm {
    /// A `timer_create` timer, by kernel id: its next expiry.
    Timer(libc::c_int),
    /// A perf event's descriptor: its next overflow.
    PerfEvent(libc::c_int),
}

impl Rearm {
    /// Makes the next sample come after `ns` more ns of the thread's CPU time.
    /// Async-signal-safe (one system call).
    fn after(self, ns: u64) {
        match self {
            Rearm::Timer(id) => {
                let spec = libc::itimerspec {
                    it_interval: timespec(PERIOD_NS.load(Ordering::Relaxed)),
                    it_value: timespec(ns.max(1)),
                };
                // SAFETY: the raw system call takes the kernel's timer id (from the siginfo,
                // unlike glibc's `timer_t`) and a valid itimerspec. On error (a timer deleted
                // meanwhile) nothing changes; the interval keeps a live timer firing anyway.
                unsafe {
                    libc::syscall(
                        libc::SYS_timer_settime,
                        id,
                        0,
                        &spec as *const libc::itimerspec,
                        ptr::null_mut::<libc::itimerspec>(),
                    )
                };
            }
            Rearm::PerfEvent(fd) => perf_event::set_period(fd, ns),
        }
    }
}

/// Records one sample; the body of the handler once it knows the profiler is running.
///
/// # Safety
/// `info` and `context` must be the handler's, and the profiler must be running.
unsafe fn take_sample(info: *const libc::siginfo_t, context: *mut libc::c_void) {
    let registered = REGISTERED.with(Cell::get);
    let run = RUN.load(Ordering::Relaxed);
    // SAFETY: every siginfo starts with signo, errno and code.
    let code = unsafe { (*info).si_code };
    let weight = if code == libc::SI_TIMER {
        // SAFETY: SI_TIMER signals carry the `_timer` fields.
        let timer = unsafe { &*info.cast::<TimerSigInfo>() };
        let value = timer.si_value.sival_ptr as usize;
        match value & ((1 << KIND_BITS) - 1) {
            PROCESS_TIMER if registered || OWN.with(Cell::get).0 == run => None,
            PROCESS_TIMER => process_timer_weight(run),
            OWN_TIMER if (value >> KIND_BITS) as u64 % (1 << RUN_BITS) == run % (1 << RUN_BITS) => {
                let base = (value >> (KIND_BITS + RUN_BITS)) as u64;
                own_weight(run, base, Rearm::Timer(timer.si_tid))
            }
            // A timer of an earlier run, deleted since.
            _ => None,
        }
    } else if code == perf_event::POLL_IN {
        // SAFETY: POLL_IN signals of an async descriptor carry the `_sigpoll` fields.
        let fd = unsafe { &*info.cast::<PollSigInfo>() }.si_fd;
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        // Only an event of this run and thread (the number may have been reused since).
        perf_event::base_of(fd, tid).and_then(|base| own_weight(run, base, Rearm::PerfEvent(fd)))
    } else {
        // Not one of ours (e.g. `kill -PROF`): not a CPU sample.
        return;
    };
    let Some(weight) = weight else {
        COUNTERS.ignored.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let ring = RING.load(Ordering::Acquire);
    // SAFETY: RING is non-null while ENABLED, and `stop` keeps the ring alive until no handler
    // is ACTIVE.
    let Some(ring) = (unsafe { ring.as_ref() }) else {
        return;
    };
    COUNTERS.signals.fetch_add(1, Ordering::Relaxed);
    COUNTERS
        .taken
        .fetch_add(u64::from(weight), Ordering::Relaxed);
    // SAFETY: the caller passes the handler's ucontext.
    let regs = unsafe { Registers::from_context(context) };
    let stack = if registered {
        let (low, high) = STACK.with(Cell::get);
        low..high
    } else {
        0..0
    };
    let route = crate::context::current_ptr() as usize;
    let stored = ring.push(|sample| {
        // SAFETY: `stack` is empty or this thread's own stack, recorded at registration.
        let (depth, truncated) = unsafe { unwind::walk(regs, stack, &mut sample.frames) };
        sample.route = route;
        sample.weight = weight;
        sample.depth = depth as u16;
        sample.truncated = truncated;
    });
    if !stored {
        COUNTERS
            .dropped_buffer_full
            .fetch_add(u64::from(weight), Ordering::Relaxed);
    }
}

/// The weight of a sample of the thread's own sampler (timer or perf event), and the placement
/// of its next sample: jittered (stratified) sampling over the thread's CPU time.
///
/// The thread's CPU time since `start` is cut into cells of one period. Each sample is placed
/// at a uniformly random point of the cell after the one it fell in, and is weighted by the
/// cells it completes: the one it fell in and any before it not yet credited (after a lost or
/// late signal, or the tick, which delays timer signals). So the weights add up to the CPU time
/// used, rounded to the cell, and every point of CPU time is equally likely to be sampled,
/// whatever the workload's rhythm: a periodic workload cannot fall into step with the samples.
///
/// `start` is, at the thread's first sample of a run, the later of `base` (the CPU time at
/// which its sampler was created, or 0 for a thread born during the run, whose earlier CPU
/// time is then caught up) and what the process-wide timer already accounted for the thread.
/// `None` when the signal completes no cell (a sample that came early).
fn own_weight(run: u64, base: u64, rearm: Rearm) -> Option<u32> {
    let cpu = thread_cpu_ns(libc::CLOCK_THREAD_CPUTIME_ID)?;
    let period = PERIOD_NS.load(Ordering::Relaxed);
    let (own_run, start, credited) = OWN.with(Cell::get);
    let (start, credited) = if own_run == run {
        (start, credited)
    } else {
        let (accounted_run, accounted) = ACCOUNTED.with(Cell::get);
        let start = if accounted_run == run {
            base.max(accounted)
        } else {
            base
        };
        (start, 0)
    };
    let used = cpu.saturating_sub(start);
    let cells = used / period + 1;
    rearm.after(cells * period + random() % period - used);
    OWN.with(|own| own.set((run, start, cells.max(credited))));
    let weight = cells.saturating_sub(credited);
    (weight > 0).then(|| u32::try_from(weight).unwrap_or(u32::MAX))
}

/// How many periods a process-wide signal stands for on this thread: the whole periods of CPU
/// time it used since its last such sample (`None` for none, e.g. an idle thread the kernel
/// picked). The first signal of a run on a thread only sets its starting point.
fn process_timer_weight(run: u64) -> Option<u32> {
    let cpu = thread_cpu_ns(libc::CLOCK_THREAD_CPUTIME_ID)?;
    let (seen_run, accounted) = ACCOUNTED.with(Cell::get);
    if seen_run != run {
        ACCOUNTED.with(|cell| cell.set((run, cpu)));
        return None;
    }
    let period = PERIOD_NS.load(Ordering::Relaxed);
    let periods = cpu.saturating_sub(accounted) / period;
    if periods == 0 {
        return None;
    }
    ACCOUNTED.with(|cell| cell.set((run, accounted + periods * period)));
    Some(u32::try_from(periods).unwrap_or(u32::MAX))
}

/// The value of a CPU clock in ns. Async-signal-safe (`clock_gettime` is).
fn thread_cpu_ns(clock: libc::clockid_t) -> Option<u64> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into `now`.
    if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
        return None;
    }
    Some(now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64)
}

/// The CPU-time clock of thread `tid` of this process (what glibc's `pthread_getcpuclockid`
/// returns; `CLOCK_THREAD_CPUTIME_ID` would be the clock of the *calling* thread, wrong for
/// timers created on another thread's behalf).
fn cpu_clock_of(tid: libc::pid_t) -> libc::clockid_t {
    // MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED): per-thread flag 4 | scheduler clock 2.
    (!tid << 3) | 6
}

/// A POSIX timer, deleted when dropped.
struct Timer(libc::timer_t);

// SAFETY: a timer id is a process-wide handle usable from any thread.
unsafe impl Send for Timer {}

impl Timer {
    /// Creates a timer on `clock` that raises `SIGPROF` with `value` (for `thread`, or for the
    /// process when `None`) every `period_ns` of CPU time, first after a random part of a period.
    fn start(
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

/// A `timespec` of `ns` nanoseconds.
fn timespec(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}

/// State of [`random`]; seeded from the OS by [`seed_random`].
static RANDOM: AtomicU64 = AtomicU64::new(0);

/// Seeds [`random`] once per process, in normal context (the handler must not wait on a
/// `Once`).
fn seed_random() {
    static SEED: Once = Once::new();
    SEED.call_once(|| {
        let mut seed = [0u8; 8];
        // SAFETY: writes at most 8 bytes into `seed`.
        unsafe { libc::getrandom(seed.as_mut_ptr().cast(), seed.len(), 0) };
        RANDOM.store(u64::from_ne_bytes(seed), Ordering::Relaxed);
    });
}

/// A fast non-cryptographic random number (splitmix64), for sample placement. Lock-free and
/// async-signal-safe.
fn random() -> u64 {
    let mut z = RANDOM
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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
fn choose_engine(
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
fn probe_perf_event() -> io::Result<()> {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    PerfEvent::open(tid, 1 << 62, u64::MAX).map(drop)
}

/// A thread's own sampler; dropping it stops it.
enum OwnSampler {
    // The fields are only held for their `Drop`.
    Timer(#[allow(dead_code, reason = "held for its Drop")] Timer),
    PerfEvent(#[allow(dead_code, reason = "held for its Drop")] PerfEvent),
}

/// A thread known to the profiler.
struct ThreadEntry {
    tid: libc::pid_t,
    /// Its own sampler while the profiler runs.
    sampler: Option<OwnSampler>,
}

/// Samplers and known threads; only touched in normal (non-signal) context.
struct Timers {
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

static TIMERS: Mutex<Timers> = Mutex::new(Timers {
    period_ns: None,
    engine: Engine::TimerCreate,
    threads: Vec::new(),
    scanned: Vec::new(),
    process: None,
});

/// Locks [`TIMERS`]; a panic while holding it leaves consistent data, so poisoning is ignored.
fn timers() -> MutexGuard<'static, Timers> {
    TIMERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether creating a thread's sampler failed because the thread is gone (not an error).
fn exited(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ESRCH)
}

/// Gives thread `tid` its own sampler of `engine`, accounting from its CPU time `base`: a perf
/// event, or a timer where the event cannot be opened (counted), or none where neither can be
/// created (counted unless the thread exited): the process-wide timer then still covers it.
fn arm(engine: Engine, tid: libc::pid_t, base: u64, period_ns: u64) -> Option<OwnSampler> {
    if engine == Engine::PerfEvent {
        match PerfEvent::open(tid, 1 + random() % period_ns, base) {
            Ok(event) => return Some(OwnSampler::PerfEvent(event)),
            Err(err) if exited(&err) => return None,
            Err(_) => {
                COUNTERS.perf_fallbacks.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let run = RUN.load(Ordering::Relaxed) % (1 << RUN_BITS);
    let value = OWN_TIMER
        | (run as usize) << KIND_BITS
        | (base.min(MAX_TIMER_BASE) as usize) << (KIND_BITS + RUN_BITS);
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

/// Unregisters its thread at thread exit.
struct ExitGuard;

impl Drop for ExitGuard {
    fn drop(&mut self) {
        REGISTERED.with(|registered| registered.set(false));
        compiler_fence(Ordering::SeqCst);
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        // Dropping the entry closes the thread's perf event or deletes its timer.
        timers().threads.retain(|thread| thread.tid != tid);
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
    let mut timers = timers();
    // Threads born since the start: all their CPU time is within the run.
    arm_unknown(&mut timers, &live, false);
}

/// The body of [`scan_threads`] on the listed `live` threads. `at_start`: they predate the
/// run, so their accounting starts at their CPU time now.
fn arm_unknown(timers: &mut Timers, live: &[libc::pid_t], at_start: bool) {
    let Some(period_ns) = timers.period_ns else {
        return;
    };
    timers.scanned.retain(|thread| live.contains(&thread.tid));
    for &tid in live {
        let known = |list: &[ThreadEntry]| list.iter().any(|thread| thread.tid == tid);
        if !known(&timers.threads) && !known(&timers.scanned) {
            let base = if at_start {
                thread_cpu_ns(cpu_clock_of(tid)).unwrap_or(0)
            } else {
                0
            };
            let sampler = arm(timers.engine, tid, base, period_ns);
            timers.scanned.push(ThreadEntry { tid, sampler });
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
    let mut timers = timers();
    let entry = match timers.scanned.iter().position(|thread| thread.tid == tid) {
        // Found by a scan (it predates the run, or was born since): its sampler carries on.
        Some(index) => timers.scanned.swap_remove(index),
        None => {
            // While running, a thread no scan has seen yet was born after the start: its
            // accounting starts at 0 (what the process-wide timer took is left out).
            let sampler = timers
                .period_ns
                .and_then(|period| arm(timers.engine, tid, 0, period));
            ThreadEntry { tid, sampler }
        }
    };
    timers.threads.push(entry);
    compiler_fence(Ordering::SeqCst);
    REGISTERED.with(|registered| registered.set(true));
}

/// Installs the handler once per process. It stays installed after `stop`: a signal still
/// pending then must not hit the default action, which would kill the process.
fn install_handler() -> io::Result<()> {
    static INSTALL: Once = Once::new();
    static RESULT: Mutex<Option<io::ErrorKind>> = Mutex::new(None);
    INSTALL.call_once(|| {
        // SAFETY: sigaction is plain data; all-zero is a valid starting value.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_sigprof as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
        // SAFETY: valid pointer to the mask inside `action`.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: all-zero is a valid sigaction to receive the previous one.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: reads the current SIGPROF action without changing it.
        unsafe { libc::sigaction(libc::SIGPROF, ptr::null(), &mut previous) };
        let outcome =
            if previous.sa_sigaction != libc::SIG_DFL && previous.sa_sigaction != libc::SIG_IGN {
                // Someone else (another profiler) owns SIGPROF: replacing it would break them.
                Some(io::ErrorKind::AlreadyExists)
            } else if unsafe {
                // SAFETY: installs a valid handler; the previous action was read above.
                libc::sigaction(libc::SIGPROF, &action, ptr::null_mut())
            } != 0
            {
                Some(io::Error::last_os_error().kind())
            } else {
                None
            };
        *RESULT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = outcome;
    });
    match *RESULT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
    {
        None => Ok(()),
        Some(io::ErrorKind::AlreadyExists) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "another SIGPROF handler is installed (another profiler?)",
        )),
        Some(kind) => Err(io::Error::new(kind, "cannot install the SIGPROF handler")),
    }
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
        install_handler()?;
        seed_random();
        let (engine, fallback_reason) = choose_engine(requested, probe_perf_event)?;
        for counter in [
            &COUNTERS.taken,
            &COUNTERS.dropped_buffer_full,
            &COUNTERS.signals,
            &COUNTERS.ignored,
            &COUNTERS.timer_errors,
            &COUNTERS.perf_fallbacks,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        let ring = Arc::new(Ring::new(capacity));
        RING.store(Arc::as_ptr(&ring).cast_mut(), Ordering::Release);
        PERIOD_NS.store(period_ns.max(1), Ordering::Relaxed);
        RUN.fetch_add(1, Ordering::Relaxed);
        ENABLED.store(true, Ordering::SeqCst);
        let live = live_threads();
        {
            let mut timers = timers();
            timers.engine = engine;
            for index in 0..timers.threads.len() {
                let tid = timers.threads[index].tid;
                let base = thread_cpu_ns(cpu_clock_of(tid)).unwrap_or(0);
                timers.threads[index].sampler = arm(engine, tid, base, period_ns);
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
                    timers.process = Some(process);
                    timers.period_ns = Some(period_ns);
                }
                Err(err) => {
                    timers
                        .threads
                        .iter_mut()
                        .for_each(|thread| thread.sampler = None);
                    drop(timers);
                    disable();
                    return Err(err);
                }
            }
            // Under the same lock as the above, so that a thread registering concurrently
            // either is found here (and accounts from now) or was born after the listing.
            arm_unknown(&mut timers, &live, true);
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
            let mut timers = timers();
            timers.process = None;
            timers.period_ns = None;
            let scanned = std::mem::take(&mut timers.scanned);
            let registered = timers
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
        disable();
        drop(samplers);
        self.ring
    }
}

/// Disables the handler and waits for running handlers to finish.
fn disable() {
    ENABLED.store(false, Ordering::SeqCst);
    while ACTIVE.load(Ordering::SeqCst) != 0 {
        std::thread::yield_now();
    }
    RING.store(ptr::null_mut(), Ordering::Release);
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
