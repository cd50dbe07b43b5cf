//! Per-thread Linux perf events on the task clock, the sample source of the `perf_event` engine.
//!
//! Each thread gets a software event counting its CPU time (`PERF_COUNT_SW_TASK_CLOCK`) that
//! overflows after a set number of ns of that CPU time. The overflow comes from a high-resolution
//! timer, not from the scheduler tick, so sample points fall anywhere in the thread's execution;
//! the event's file descriptor is put in async mode (`O_ASYNC`, `F_SETSIG` = `SIGPROF`,
//! `F_SETOWN_EX` with `F_OWNER_TID`), so each overflow raises `SIGPROF` on the thread itself,
//! with the descriptor in `si_fd` (async-profiler's `cpu` mode works the same way).
//!
//! The handler changes the period after every sample (`PERF_EVENT_IOC_PERIOD`, a syscall, so
//! async-signal-safe) to place the next sample at a random point. It must only do that to
//! descriptors of this run and of its own thread: a signal can arrive after its descriptor was
//! closed and the number reused. The [`FdTable`] lets it check without a lock: a slot per
//! descriptor number, holding the owner thread and the CPU time its accounting starts from.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// `PERF_TYPE_SOFTWARE` (`linux/perf_event.h`).
const PERF_TYPE_SOFTWARE: u32 = 1;
/// `PERF_COUNT_SW_TASK_CLOCK`: the CPU time of the task the event is attached to.
const PERF_COUNT_SW_TASK_CLOCK: u64 = 1;
/// `PERF_FLAG_FD_CLOEXEC`.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `PERF_EVENT_IOC_ENABLE` = `_IO('$', 0)`.
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
/// `PERF_EVENT_IOC_PERIOD` = `_IOW('$', 4, __u64)`.
const PERF_EVENT_IOC_PERIOD: libc::c_ulong = 0x4008_2404;
/// `perf_event_attr` flag bits used here.
const ATTR_DISABLED: u64 = 1 << 0;
const ATTR_EXCLUDE_KERNEL: u64 = 1 << 5;
const ATTR_EXCLUDE_HV: u64 = 1 << 6;
/// `fcntl` commands and values the libc crate does not define for glibc.
const F_SETSIG: libc::c_int = 10;
const F_SETOWN_EX: libc::c_int = 15;
const F_OWNER_TID: libc::c_int = 0;
/// `si_code` of a signal raised by an async file descriptor with data (`POLL_IN`).
pub(crate) const POLL_IN: libc::c_int = 1;
/// The kernel restarts task-clock sampling timers after at least this long (ns); shorter
/// periods would be rounded up by it anyway.
pub(crate) const MIN_PERIOD_NS: u64 = 10_000;
/// Largest descriptor table kept (12 bytes a slot); descriptors numbered above it are not used.
const MAX_TABLE_SLOTS: usize = 65_536;

/// The first 64 bytes of `struct perf_event_attr` (`PERF_ATTR_SIZE_VER0`), all this engine sets.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

/// `struct f_owner_ex`.
#[repr(C)]
struct OwnerEx {
    kind: libc::c_int,
    pid: libc::pid_t,
}

/// The `siginfo_t` layout of a signal from an async descriptor (`_sifields._sigpoll`), which
/// the libc crate does not expose for glibc.
#[repr(C)]
pub(crate) struct PollSigInfo {
    pub si_signo: libc::c_int,
    pub si_errno: libc::c_int,
    pub si_code: libc::c_int,
    /// The union that follows is pointer-aligned.
    #[cfg(target_pointer_width = "64")]
    _pad: libc::c_int,
    pub si_band: libc::c_long,
    pub si_fd: libc::c_int,
}

/// What the handler may know about a descriptor: its thread and where accounting starts.
struct Slot {
    /// The thread the event samples, 0 while the slot is free.
    tid: AtomicI32,
    /// That thread's CPU time (ns) from which its samples account, see `sampler::own_weight`.
    base: AtomicU64,
}

/// Slots indexed by descriptor number, allocated once and never freed (the handler may read
/// them at any time). Written only in normal context, by the owner of the descriptor: while a
/// descriptor is open its number, and so its slot, is unique.
struct FdTable {
    slots: AtomicPtr<Slot>,
    len: AtomicUsize,
    /// Events open now, and how many may be (a share of the descriptor limit).
    open: AtomicUsize,
    budget: AtomicUsize,
}

static TABLE: FdTable = FdTable {
    slots: AtomicPtr::new(std::ptr::null_mut()),
    len: AtomicUsize::new(0),
    open: AtomicUsize::new(0),
    budget: AtomicUsize::new(0),
};

impl FdTable {
    /// The slots, empty before [`prepare`].
    fn slots(&self) -> &'static [Slot] {
        let len = self.len.load(Ordering::Acquire);
        let slots = self.slots.load(Ordering::Acquire);
        if slots.is_null() {
            return &[];
        }
        // SAFETY: `prepare` stores a leaked allocation of `len` slots (length first, pointer
        // published after with Release) and never frees or replaces it.
        unsafe { std::slice::from_raw_parts(slots, len) }
    }
}

/// Allocates the descriptor table on first use, sized by the soft `RLIMIT_NOFILE` (descriptor
/// numbers are below it); at most half of that many events are opened, leaving the rest of the
/// limit to the application. Threads beyond are sampled by a `timer_create` timer instead.
pub(crate) fn prepare() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into `limit`.
        let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
        } else {
            1024
        };
        let len = soft.clamp(64, MAX_TABLE_SLOTS);
        let slots: Box<[Slot]> = (0..len)
            .map(|_| Slot {
                tid: AtomicI32::new(0),
                base: AtomicU64::new(0),
            })
            .collect();
        TABLE.len.store(len, Ordering::Release);
        TABLE
            .slots
            .store(Box::leak(slots).as_mut_ptr(), Ordering::Release);
        TABLE.budget.store(len / 2, Ordering::Relaxed);
    });
}

/// For the handler: the accounting base of descriptor `fd` if it is a live event of thread
/// `tid`. Async-signal-safe (atomic loads only).
pub(crate) fn base_of(fd: libc::c_int, tid: libc::pid_t) -> Option<u64> {
    let slot = TABLE.slots().get(usize::try_from(fd).ok()?)?;
    if slot.tid.load(Ordering::Acquire) != tid {
        return None;
    }
    Some(slot.base.load(Ordering::Relaxed))
}

/// For the handler: makes the next overflow of `fd` come after `ns` more ns of CPU time.
/// Async-signal-safe (one `ioctl`). Errors are ignored: the event keeps its previous period.
pub(crate) fn set_period(fd: libc::c_int, ns: u64) {
    let period: u64 = ns.max(MIN_PERIOD_NS);
    // SAFETY: PERF_EVENT_IOC_PERIOD reads a u64 through the pointer; `fd` was checked by
    // `base_of` to be a perf event of this run.
    unsafe { libc::ioctl(fd, PERF_EVENT_IOC_PERIOD, &period) };
}

/// An open task-clock event on one thread; closed (and its slot freed) when dropped.
pub(crate) struct PerfEvent {
    fd: libc::c_int,
}

impl PerfEvent {
    /// Opens an event on thread `tid` of this process whose first overflow comes after
    /// `first_ns` of its CPU time, raising `SIGPROF` on that thread, with accounting base
    /// `base` (see [`base_of`]). Fails with the `perf_event_open` error where perf events are
    /// not permitted (`perf_event_paranoid`, seccomp) and with `EMFILE` past the budget.
    pub(crate) fn open(tid: libc::pid_t, first_ns: u64, base: u64) -> io::Result<PerfEvent> {
        prepare();
        // A soft cap: concurrent opens may pass it by a few.
        if TABLE.open.load(Ordering::Relaxed) >= TABLE.budget.load(Ordering::Relaxed) {
            return Err(io::Error::from_raw_os_error(libc::EMFILE));
        }
        let mut attr = PerfEventAttr {
            kind: PERF_TYPE_SOFTWARE,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config: PERF_COUNT_SW_TASK_CLOCK,
            sample_period: first_ns.max(MIN_PERIOD_NS),
            wakeup_events: 1,
            flags: ATTR_DISABLED | ATTR_EXCLUDE_HV,
            ..PerfEventAttr::default()
        };
        // Kernel time included when allowed (a sample then lands where the system call returns,
        // still in the right route); with `perf_event_paranoid` 2 only user time may be sampled,
        // and the CPU time of kernel code is then weighed into the next user-mode sample.
        let fd = match open_event(&attr, tid) {
            Err(err) if matches!(err.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
                attr.flags |= ATTR_EXCLUDE_KERNEL;
                open_event(&attr, tid)?
            }
            opened => opened?,
        };
        // From here on the descriptor is closed on every error path by `event`'s drop.
        let event = PerfEvent { fd };
        let slot = TABLE
            .slots()
            .get(fd as usize)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EMFILE))?;
        let owner = OwnerEx {
            kind: F_OWNER_TID,
            pid: tid,
        };
        // SAFETY: fcntl and ioctl on the descriptor just opened, with valid arguments.
        let armed = unsafe {
            libc::fcntl(fd, libc::F_SETFL, libc::O_ASYNC) == 0
                && libc::fcntl(fd, F_SETSIG, libc::SIGPROF) == 0
                && libc::fcntl(fd, F_SETOWN_EX, &owner) == 0
        };
        if !armed {
            return Err(io::Error::last_os_error());
        }
        slot.base.store(base, Ordering::Relaxed);
        slot.tid.store(tid, Ordering::Release);
        TABLE.open.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        if unsafe { libc::ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(event)
    }
}

impl Drop for PerfEvent {
    fn drop(&mut self) {
        // The slot of an open descriptor number is this value's alone: no lock needed.
        if let Some(slot) = TABLE.slots().get(self.fd as usize)
            && slot.tid.swap(0, Ordering::AcqRel) != 0
        {
            TABLE.open.fetch_sub(1, Ordering::Relaxed);
        }
        // SAFETY: the descriptor is owned by this value. Closing also stops the event.
        unsafe { libc::close(self.fd) };
    }
}

/// `perf_event_open(attr, tid, any CPU, no group, CLOEXEC)`.
fn open_event(attr: &PerfEventAttr, tid: libc::pid_t) -> io::Result<libc::c_int> {
    // SAFETY: `attr` is a valid PERF_ATTR_SIZE_VER0 attribute struct.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *const PerfEventAttr,
            tid,
            -1 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd as libc::c_int)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_has_the_size_of_the_first_abi_version() {
        assert_eq!(std::mem::size_of::<PerfEventAttr>(), 64);
    }

    #[test]
    fn slots_know_their_thread_until_closed() {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        let event = match PerfEvent::open(tid, 1_000_000_000, 42) {
            Ok(event) => event,
            Err(err) => panic!(
                "perf_event_open is not permitted here ({err}); the perf_event engine cannot \
                 be tested (see /proc/sys/kernel/perf_event_paranoid)"
            ),
        };
        let fd = event.fd;
        assert_eq!(base_of(fd, tid), Some(42));
        assert_eq!(base_of(fd, tid + 1), None, "another thread's signal");
        drop(event);
        assert_eq!(base_of(fd, tid), None, "a closed descriptor");
    }
}
