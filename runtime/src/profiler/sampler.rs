//! Sampling: the `SIGPROF` handler, the CPU-time timers that raise it, and thread registration.
//!
//! Every thread is sampled by its own `timer_create(CLOCK_THREAD_CPUTIME_ID, SIGEV_THREAD_ID)`
//! timer, so it is sampled in proportion to its own CPU time (one process-wide timer skews badly
//! under parallel load, golang/go#35057):
//!
//! - *registered* threads (those that ran a route, or called [`register_current_thread`]) get
//!   theirs at registration and have full frame-pointer stacks, bounded by their stack range;
//! - other threads are found by scanning `/proc/self/task` every 100 ms and get a timer too;
//!   their stack bounds are unknown, so their samples hold the interrupted function only.
//!
//! A process-wide `CLOCK_PROCESS_CPUTIME_ID` timer covers threads between their start and the
//! next scan. Linux delivers its signal to some thread of the process, often an idle one, so a
//! thread that receives it accounts only its own CPU time since its last such sample (read from
//! its CPU clock), and a thread with its own timer ignores it: nothing is counted twice. The
//! first expiry of every timer is random within one period so that short-lived threads are not
//! biased against.
//!
//! The handler is async-signal-safe: it reads a few thread-locals without destructors and the
//! thread's CPU clock, walks the frame pointers, writes into the preallocated [`Ring`] and bumps
//! atomic counters. It never allocates, locks or calls the system unwinder, and it restores
//! `errno`.

use super::ring::Ring;
use super::unwind::{self, Registers};
use std::cell::Cell;
use std::io;
use std::ops::Range;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, compiler_fence};
use std::sync::{Arc, Mutex, MutexGuard, Once};

/// Kind of timer, in the low bits of its `sigval`: a registered thread's timer.
const THREAD_TIMER: usize = 1;
/// The process-wide fallback timer.
const PROCESS_TIMER: usize = 2;
/// A timer created by [`scan_threads`]; the rest of its `sigval` holds the thread's CPU time
/// (ns) already accounted for when the timer was created, `>> KIND_BITS`.
const SCANNED_TIMER: usize = 3;
const KIND_BITS: u32 = 2;

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
    /// Sampling periods taken (each signal counts 1 + its timer overruns).
    pub taken: AtomicU64,
    /// Periods taken but dropped because the buffer was full.
    pub dropped_buffer_full: AtomicU64,
    /// Signals handled (one per sample record, whatever its weight).
    pub signals: AtomicU64,
    /// Process-wide signals ignored: on a thread with its own timer, or one that used no CPU
    /// since its last sample.
    pub ignored: AtomicU64,
    /// Registered threads whose timer could not be created (they fall back to the process timer).
    pub timer_errors: AtomicU64,
}

/// The counters of the current (or last) run.
pub(crate) static COUNTERS: Counters = Counters {
    taken: AtomicU64::new(0),
    dropped_buffer_full: AtomicU64::new(0),
    signals: AtomicU64::new(0),
    ignored: AtomicU64::new(0),
    timer_errors: AtomicU64::new(0),
};

thread_local! {
    /// Whether this thread has its own timer while the profiler runs (and so ignores the
    /// process-wide timer). Const-initialized without destructor: readable in the handler.
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
    /// This thread's stack, `0..0` until registered; bounds the frame-pointer walk.
    static STACK: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// The run in which this thread last received a signal of its own (scanned) timer.
    static OWN_TIMER_RUN: Cell<u64> = const { Cell::new(0) };
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
        unsafe { take_sample(&*info.cast::<TimerSigInfo>(), context) };
    }
    ACTIVE.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: as above; the handler must not leak its own errno into the interrupted code.
    unsafe { *libc::__errno_location() = errno };
}

/// Records one sample; the body of the handler once it knows the profiler is running.
///
/// # Safety
/// `context` must be the handler's `ucontext_t`, and the profiler must be running.
unsafe fn take_sample(info: &TimerSigInfo, context: *mut libc::c_void) {
    if info.si_code != libc::SI_TIMER {
        // Not one of our timers (e.g. `kill -PROF`): not a CPU sample.
        return;
    }
    let registered = REGISTERED.with(Cell::get);
    let run = RUN.load(Ordering::Relaxed);
    let value = info.si_value.sival_ptr as usize;
    let periodic = 1 + u32::try_from(info.si_overrun).unwrap_or(0);
    let weight = match value & ((1 << KIND_BITS) - 1) {
        PROCESS_TIMER => {
            if registered || OWN_TIMER_RUN.with(Cell::get) == run {
                COUNTERS.ignored.fetch_add(1, Ordering::Relaxed);
                return;
            }
            match process_timer_weight(run) {
                Some(weight) => weight,
                None => {
                    COUNTERS.ignored.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        SCANNED_TIMER if OWN_TIMER_RUN.with(Cell::get) != run => {
            // First signal of a scanned timer: also account the CPU the thread used since the
            // profiler started (or it was born) and before its timer existed.
            OWN_TIMER_RUN.with(|own| own.set(run));
            let (accounted_run, accounted) = ACCOUNTED.with(Cell::get);
            let mut base = (value >> KIND_BITS) as u64;
            if accounted_run == run {
                base = base.max(accounted);
            }
            let period = PERIOD_NS.load(Ordering::Relaxed);
            let catch_up = thread_cpu_ns(libc::CLOCK_THREAD_CPUTIME_ID)
                .map_or(0, |cpu| cpu.saturating_sub(base) / period);
            periodic.max(u32::try_from(catch_up).unwrap_or(u32::MAX))
        }
        _ => periodic,
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

/// A fast non-cryptographic random number (splitmix64 over a seed from the OS), used only to
/// spread first expiries.
fn random() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    static SEED: Once = Once::new();
    SEED.call_once(|| {
        let mut seed = [0u8; 8];
        // SAFETY: writes at most 8 bytes into `seed`.
        unsafe { libc::getrandom(seed.as_mut_ptr().cast(), seed.len(), 0) };
        STATE.store(u64::from_ne_bytes(seed), Ordering::Relaxed);
    });
    let mut z = STATE
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A thread known to the profiler.
struct ThreadEntry {
    tid: libc::pid_t,
    /// Its timer while the profiler runs.
    timer: Option<Timer>,
}

/// Timers and known threads; only touched in normal (non-signal) context.
struct Timers {
    /// The sampling period while running, `None` when stopped.
    period_ns: Option<u64>,
    /// Registered threads.
    threads: Vec<ThreadEntry>,
    /// Threads found by [`scan_threads`], with their timers; emptied at stop.
    scanned: Vec<ThreadEntry>,
    process: Option<Timer>,
}

static TIMERS: Mutex<Timers> = Mutex::new(Timers {
    period_ns: None,
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

/// Creates a timer on thread `tid`'s CPU clock with `sigval` `value`, counting a failure
/// instead of failing the caller: the thread is then still covered by the process-wide timer.
fn thread_timer(tid: libc::pid_t, value: usize, period_ns: u64) -> Option<Timer> {
    Timer::start(cpu_clock_of(tid), Some(tid), value, period_ns)
        .inspect_err(|_| {
            COUNTERS.timer_errors.fetch_add(1, Ordering::Relaxed);
        })
        .ok()
}

/// Unregisters its thread at thread exit.
struct ExitGuard;

impl Drop for ExitGuard {
    fn drop(&mut self) {
        REGISTERED.with(|registered| registered.set(false));
        compiler_fence(Ordering::SeqCst);
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        timers().threads.retain(|thread| thread.tid != tid);
    }
}

/// Gives every thread of the process that has no timer yet one of its own, and deletes the
/// timers of threads that exited. Run at start (`at_start`) and by the reporter every 100 ms
/// while sampling.
pub(crate) fn scan_threads(at_start: bool) {
    let Ok(entries) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    let live: Vec<libc::pid_t> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let mut timers = timers();
    let Some(period_ns) = timers.period_ns else {
        return;
    };
    timers.scanned.retain(|thread| live.contains(&thread.tid));
    for tid in live {
        let known = |list: &[ThreadEntry]| list.iter().any(|thread| thread.tid == tid);
        if !known(&timers.threads) && !known(&timers.scanned) {
            // The CPU time to start accounting from: now for threads that predate the start,
            // zero for threads born since (all their CPU time is within the run).
            let base = if at_start {
                thread_cpu_ns(cpu_clock_of(tid)).unwrap_or(0)
            } else {
                0
            };
            let value = SCANNED_TIMER | (base as usize) << KIND_BITS;
            // Not counted as an error when it fails: the thread may just have exited.
            let timer = Timer::start(cpu_clock_of(tid), Some(tid), value, period_ns).ok();
            timers.scanned.push(ThreadEntry { tid, timer });
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

/// Gives the calling thread its own CPU timer: its samples get full stacks and are counted by
/// its own CPU time. Idempotent and cheap after the first call.
///
/// Threads are registered automatically the first time a route is set on them while the
/// profiler is (or was once) started; call this from thread-start hooks of runtimes whose
/// worker threads should be sampled per thread from the start, e.g. tokio's
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
    let timer = timers
        .period_ns
        .and_then(|period| thread_timer(tid, THREAD_TIMER, period));
    timers.threads.push(ThreadEntry { tid, timer });
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
}

impl Sampler {
    /// Starts sampling every `period_ns` of CPU time into a buffer of `capacity` samples.
    /// The caller guarantees that at most one sampler exists at a time.
    pub(crate) fn start(period_ns: u64, capacity: usize) -> io::Result<Sampler> {
        install_handler()?;
        for counter in [
            &COUNTERS.taken,
            &COUNTERS.dropped_buffer_full,
            &COUNTERS.signals,
            &COUNTERS.ignored,
            &COUNTERS.timer_errors,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        let ring = Arc::new(Ring::new(capacity));
        RING.store(Arc::as_ptr(&ring).cast_mut(), Ordering::Release);
        PERIOD_NS.store(period_ns.max(1), Ordering::Relaxed);
        RUN.fetch_add(1, Ordering::Relaxed);
        ENABLED.store(true, Ordering::SeqCst);
        {
            let mut timers = timers();
            for thread in &mut timers.threads {
                thread.timer = thread_timer(thread.tid, THREAD_TIMER, period_ns);
            }
            // Per-thread timers first, so no registered thread ever runs without one while the
            // process-wide timer exists.
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
                        .for_each(|thread| thread.timer = None);
                    drop(timers);
                    disable();
                    return Err(err);
                }
            }
        }
        crate::context::set_first_route_hook(register_current_thread);
        register_current_thread();
        scan_threads(true);
        Ok(Sampler { ring })
    }

    /// The buffer the handler writes into.
    pub(crate) fn ring(&self) -> &Arc<Ring> {
        &self.ring
    }

    /// Deletes every timer and waits until no handler is still writing; afterwards the ring
    /// holds every sample that will ever be taken by this run.
    pub(crate) fn stop(self) -> Arc<Ring> {
        {
            let mut timers = timers();
            timers.process = None;
            timers.period_ns = None;
            timers
                .threads
                .iter_mut()
                .for_each(|thread| thread.timer = None);
        }
        disable();
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
