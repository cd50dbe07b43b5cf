//! The `SIGPROF` handler: the code that runs inside the signal, and the state it reads.
//!
//! A signal comes from a thread's own sampler (see [`super::timers`]) or from the process-wide
//! CPU timer (see [`super::threads`]). The handler weighs it in sampling periods of the
//! thread's CPU time ([`own_weight`], [`process_timer_weight`]), places the thread's next
//! sample at a random point of its next period, walks the frame pointers and writes the sample
//! with the current route into the preallocated [`Ring`].
//!
//! Each sample is weighed by the periods it completes: unbiased for any rhythm of the
//! workload, and all CPU time accounted for. Linux delivers the process-wide timer's signal to
//! some thread of the process, often an idle one, so a thread that receives it accounts only
//! its own CPU time since its last such sample (read from its CPU clock), and a thread with its
//! own sampler ignores it: nothing is counted twice.
//!
//! The handler is async-signal-safe: it reads a few thread-locals without destructors, the
//! thread's CPU clock and atomics, makes one system call to place the next sample, walks the
//! frame pointers, writes into the preallocated [`Ring`] and bumps atomic counters. It never
//! allocates, locks or calls the system unwinder, and it restores `errno`.
//!
//! Beside it, and nowhere else, the few functions that change what the handler reads from
//! normal context, so that the protocol its `unsafe` relies on is in one file: installing it,
//! enabling it for a run ([`enable`]) and disabling it ([`disable`], which waits until no
//! handler runs before the buffer may be freed), the encoding of a thread timer's `sigval`
//! ([`own_timer_value`]), the seed of [`random`], and marking a thread registered.

use super::perf_event::{self, PollSigInfo};
use super::ring::Ring;
use super::unwind::{self, Registers};
use std::cell::Cell;
use std::io;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};

/// Kind of timer, in the low bits of its `sigval`: the process-wide fallback timer.
pub(super) const PROCESS_TIMER: usize = 1;
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
    /// CPU time (ns) spent inside the handler, summed over every signal (see [`on_sigprof`]).
    pub handler_ns: AtomicU64,
}

/// The counters of the current (or last) run.
pub(crate) static COUNTERS: Counters = Counters {
    taken: AtomicU64::new(0),
    dropped_buffer_full: AtomicU64::new(0),
    signals: AtomicU64::new(0),
    ignored: AtomicU64::new(0),
    timer_errors: AtomicU64::new(0),
    perf_fallbacks: AtomicU64::new(0),
    handler_ns: AtomicU64::new(0),
};

thread_local! {
    /// Whether this thread registered (and so has its own sampler while the profiler runs).
    /// Const-initialized without destructor: readable in the handler.
    pub(super) static REGISTERED: Cell<bool> = const { Cell::new(false) };
    /// This thread's stack, `0..0` until registered; bounds the frame-pointer walk.
    pub(super) static STACK: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// Accounting of this thread's own sampler: the run, the CPU time (ns) it counts from, and
    /// the periods of CPU time after that already credited to samples.
    static OWN: Cell<(u64, u64, u64)> = const { Cell::new((0, 0, 0)) };
    /// For the process-wide timer: the run, and this thread's CPU time (ns) accounted so far.
    static ACCOUNTED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
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
///
/// It times itself: the thread's CPU clock at entry and exit, the difference added to
/// [`Counters::handler_ns`], so that the profiler's cost on the sampled threads is measured
/// directly, its system calls included. A CPU clock, not the monotonic one: on a busy machine
/// a thread is often descheduled at the handler's system call, and that wait is not CPU the
/// profiler used. The entry read is the one the sample's weight needs anyway, so the timing
/// adds one system call per sample (about 0.15 µs here, counted in half). What the kernel does before and after (the timer or perf event overflow,
/// building the signal frame, `rt_sigreturn`) is outside that window.
extern "C" fn on_sigprof(
    _signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: __errno_location returns this thread's errno slot.
    let errno = unsafe { *libc::__errno_location() };
    // One read serves both the handler's timing and the sample's weight.
    let entered = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID);
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    if ENABLED.load(Ordering::SeqCst) {
        // SAFETY: the kernel passes a valid siginfo and ucontext to an SA_SIGINFO handler.
        unsafe { take_sample(info, context, entered) };
    }
    // Before leaving ACTIVE, so that the counters `stop` reads include every handler.
    if let (Some(entered), Some(left)) = (entered, clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)) {
        COUNTERS
            .handler_ns
            .fetch_add(left.saturating_sub(entered), Ordering::Relaxed);
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

/// Records one sample; the body of the handler once it knows the profiler is running. `cpu` is
/// the thread's CPU time (ns) when the signal arrived (`None` if unreadable: no weight).
///
/// # Safety
/// `info` and `context` must be the handler's, and the profiler must be running.
unsafe fn take_sample(info: *const libc::siginfo_t, context: *mut libc::c_void, cpu: Option<u64>) {
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
            PROCESS_TIMER => cpu.and_then(|cpu| process_timer_weight(run, cpu)),
            OWN_TIMER if (value >> KIND_BITS) as u64 % (1 << RUN_BITS) == run % (1 << RUN_BITS) => {
                let base = (value >> (KIND_BITS + RUN_BITS)) as u64;
                cpu.and_then(|cpu| own_weight(run, base, Rearm::Timer(timer.si_tid), cpu))
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
        perf_event::base_of(fd, tid)
            .zip(cpu)
            .and_then(|(base, cpu)| own_weight(run, base, Rearm::PerfEvent(fd), cpu))
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
fn own_weight(run: u64, base: u64, rearm: Rearm, cpu: u64) -> Option<u32> {
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
fn process_timer_weight(run: u64, cpu: u64) -> Option<u32> {
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

/// The value of a clock in ns. Async-signal-safe
/// (`clock_gettime` is).
pub(super) fn clock_ns(clock: libc::clockid_t) -> Option<u64> {
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

/// A `timespec` of `ns` nanoseconds.
pub(super) fn timespec(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}

/// The `sigval` of a thread's own timer of the current run, accounting from its CPU time
/// `base` (see [`OWN_TIMER`]); what [`take_sample`] decodes.
pub(super) fn own_timer_value(base: u64) -> usize {
    let run = RUN.load(Ordering::Relaxed) % (1 << RUN_BITS);
    OWN_TIMER
        | (run as usize) << KIND_BITS
        | (base.min(MAX_TIMER_BASE) as usize) << (KIND_BITS + RUN_BITS)
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
pub(super) fn random() -> u64 {
    let mut z = RANDOM
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Installs the handler once per process. It stays installed after `stop`: a signal still
/// pending then must not hit the default action, which would kill the process.
pub(super) fn install_handler() -> io::Result<()> {
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

/// Starts a run: counters at zero, samples of `period_ns` of CPU time written into `ring`, and
/// signals of earlier runs' timers recognized as stale. The caller keeps `ring` alive until
/// [`disable`] has returned.
pub(super) fn enable(ring: &Arc<Ring>, period_ns: u64) {
    seed_random();
    for counter in [
        &COUNTERS.taken,
        &COUNTERS.dropped_buffer_full,
        &COUNTERS.signals,
        &COUNTERS.ignored,
        &COUNTERS.timer_errors,
        &COUNTERS.perf_fallbacks,
        &COUNTERS.handler_ns,
    ] {
        counter.store(0, Ordering::Relaxed);
    }
    RING.store(Arc::as_ptr(ring).cast_mut(), Ordering::Release);
    PERIOD_NS.store(period_ns.max(1), Ordering::Relaxed);
    RUN.fetch_add(1, Ordering::Relaxed);
    ENABLED.store(true, Ordering::SeqCst);
}

/// Disables the handler and waits for running handlers to finish.
pub(super) fn disable() {
    ENABLED.store(false, Ordering::SeqCst);
    while ACTIVE.load(Ordering::SeqCst) != 0 {
        std::thread::yield_now();
    }
    RING.store(ptr::null_mut(), Ordering::Release);
}
