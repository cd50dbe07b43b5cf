//! The preallocated lock-free sample buffer between the signal handler and the reporter thread.
//!
//! Writers are signal handlers on any thread; the only reader is the reporter. Each slot carries
//! its own state, so a writer claims a free slot with one compare-and-swap and publishes it with
//! one store: no lock, no allocation, and a handler that interrupts another handler's write on
//! the same thread (impossible for SIGPROF, which is masked while its handler runs, but cheap to
//! be robust to) just claims a different slot.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// The deepest stack recorded; deeper stacks are cut at their root end and marked truncated.
pub(crate) const MAX_DEPTH: usize = 128;

/// How many consecutive slots a writer tries before it counts the sample as dropped.
const PROBES: usize = 16;

/// Slot states.
const FREE: u8 = 0;
const WRITING: u8 = 1;
const READY: u8 = 2;

/// One sample as captured in the signal handler.
#[derive(Clone, Copy)]
pub(crate) struct RawSample {
    /// The current route (`*const Route` as an address), 0 when none was set.
    pub route: usize,
    /// How many sampling periods this sample stands for (1 + timer overruns).
    pub weight: u32,
    /// Whether the stack went deeper than [`MAX_DEPTH`].
    pub truncated: bool,
    /// Number of valid entries in `frames`.
    pub depth: u16,
    /// Program counter first, then return addresses, leaf to root.
    pub frames: [usize; MAX_DEPTH],
}

impl RawSample {
    /// An empty sample, used as the handler's scratch value and the reader's copy target.
    pub(crate) const EMPTY: RawSample = RawSample {
        route: 0,
        weight: 0,
        truncated: false,
        depth: 0,
        frames: [0; MAX_DEPTH],
    };

    /// The recorded frames, leaf first.
    pub(crate) fn frames(&self) -> &[usize] {
        &self.frames[..usize::from(self.depth)]
    }
}

/// A slot: its state and the sample it holds while `READY`.
struct Slot {
    state: AtomicU8,
    sample: UnsafeCell<RawSample>,
}

/// The fixed-capacity buffer.
pub(crate) struct Ring {
    slots: Box<[Slot]>,
    /// Where the next writer starts probing; only a hint that spreads writers over the slots.
    next: AtomicUsize,
    /// Where the reader's next [`Ring::drain_recent`] starts, in the index space of `next`.
    /// Only the reader touches it.
    drain_from: AtomicUsize,
}

// SAFETY: a slot's sample is only accessed by the one party that moved its state out of FREE
// (a writer, with WRITING) or out of READY (the single reader); the state's acquire/release
// operations order those accesses.
unsafe impl Sync for Ring {}

impl Ring {
    /// Allocates `capacity` slots (at least one), all free.
    pub(crate) fn new(capacity: usize) -> Ring {
        let slots = (0..capacity.max(1))
            .map(|_| Slot {
                state: AtomicU8::new(FREE),
                sample: UnsafeCell::new(RawSample::EMPTY),
            })
            .collect();
        Ring {
            slots,
            next: AtomicUsize::new(0),
            drain_from: AtomicUsize::new(0),
        }
    }

    /// Bytes held by the slots, for the documentation of the memory budget.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.len() * size_of::<Slot>()
    }

    /// Claims a free slot and lets `fill` write the sample into it; returns false (nothing
    /// written) when no free slot was found. Async-signal-safe: atomics and plain stores only.
    pub(crate) fn push(&self, fill: impl FnOnce(&mut RawSample)) -> bool {
        let len = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for probe in 0..PROBES.min(len) {
            let slot = &self.slots[(start + probe) % len];
            if slot
                .state
                .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // SAFETY: the WRITING state gives this writer exclusive access to the sample.
                fill(unsafe { &mut *slot.sample.get() });
                slot.state.store(READY, Ordering::Release);
                return true;
            }
        }
        false
    }

    /// Calls `each` with every published sample and frees its slot. Only the reporter (one
    /// thread at a time) may call this.
    pub(crate) fn drain(&self, mut each: impl FnMut(&RawSample)) {
        for slot in self.slots.iter() {
            if slot.state.load(Ordering::Acquire) == READY {
                // SAFETY: writers never touch a READY slot and there is a single reader, so the
                // sample is not aliased mutably until the state goes back to FREE below.
                each(unsafe { &*slot.sample.get() });
                slot.state.store(FREE, Ordering::Release);
            }
        }
    }

    /// Like [`Ring::drain`], but reads only the slots written since the last call: those of
    /// the writers that took an index since then (each probes at most [`PROBES`] slots from
    /// it), and from the first slot still being written last time. The full scan reads one
    /// cache line per slot of the whole buffer (2 MiB by default), which every 100 ms was most
    /// of the reporter's CPU. A writer delayed between taking its index and claiming its slot
    /// can land behind the window: the caller runs the full [`Ring::drain`] at every interval
    /// boundary and at the stop, so such a sample is late, never lost.
    pub(crate) fn drain_recent(&self, mut each: impl FnMut(&RawSample)) {
        let len = self.slots.len();
        let to = self.next.load(Ordering::Acquire);
        let from = self.drain_from.load(Ordering::Relaxed);
        let span = to.wrapping_sub(from).saturating_add(PROBES);
        if span >= len {
            self.drain(each);
            self.drain_from.store(to, Ordering::Relaxed);
            return;
        }
        let mut resume = to;
        for index in (0..span).map(|offset| from.wrapping_add(offset)) {
            let slot = &self.slots[index % len];
            match slot.state.load(Ordering::Acquire) {
                READY => {
                    // SAFETY: a READY slot is complete, and no writer touches it until FREE.
                    each(unsafe { &*slot.sample.get() });
                    slot.state.store(FREE, Ordering::Release);
                }
                WRITING if index.wrapping_sub(from) < resume.wrapping_sub(from) => resume = index,
                _ => {}
            }
        }
        self.drain_from.store(resume, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_ring_refuses_and_drain_frees() {
        let ring = Ring::new(4);
        for i in 0..4 {
            assert!(ring.push(|s| {
                s.route = i;
                s.weight = 1;
            }));
        }
        assert!(!ring.push(|_| {}), "a full ring must refuse");
        let mut routes = Vec::new();
        ring.drain(|s| routes.push(s.route));
        routes.sort_unstable();
        assert_eq!(routes, [0, 1, 2, 3]);
        assert!(ring.push(|_| {}), "drained slots are free again");
    }

    #[test]
    fn recent_drains_find_what_was_written_since_and_wrap_around() {
        let ring = Ring::new(64);
        let mut seen = Vec::new();
        for round in 0..20 {
            for i in 0..round % 7 {
                assert!(ring.push(|s| s.route = round * 100 + i));
            }
            ring.drain_recent(|s| seen.push(s.route));
        }
        let expected: Vec<usize> = (0..20)
            .flat_map(|round| (0..round % 7).map(move |i| round * 100 + i))
            .collect();
        assert_eq!(seen, expected);
        // A slot still being written is read by the next drain, not skipped.
        let writing = ring.next.fetch_add(1, Ordering::Relaxed) % 64;
        ring.slots[writing].state.store(WRITING, Ordering::Relaxed);
        assert!(ring.push(|s| s.route = 1));
        seen.clear();
        ring.drain_recent(|s| seen.push(s.route));
        assert_eq!(seen, [1]);
        // SAFETY: no writer holds this slot (the test marked it by hand).
        unsafe { (*ring.slots[writing].sample.get()).route = 2 };
        ring.slots[writing].state.store(READY, Ordering::Release);
        ring.drain_recent(|s| seen.push(s.route));
        assert_eq!(seen, [1, 2]);
    }

    #[test]
    fn concurrent_writers_lose_nothing_but_counted_drops() {
        let ring = std::sync::Arc::new(Ring::new(64));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    let (mut ok, mut dropped) = (0u64, 0u64);
                    for _ in 0..20_000 {
                        if ring.push(|s| s.weight = 1) {
                            ok += 1;
                        } else {
                            dropped += 1;
                        }
                    }
                    (ok, dropped)
                })
            })
            .collect();
        let reader = {
            let (ring, done) = (ring.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seen = 0u64;
                while !done.load(Ordering::Acquire) {
                    ring.drain(|s| seen += u64::from(s.weight));
                }
                ring.drain(|s| seen += u64::from(s.weight));
                seen
            })
        };
        let (ok, dropped) = writers
            .into_iter()
            .map(|w| w.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        done.store(true, Ordering::Release);
        assert_eq!(reader.join().unwrap(), ok);
        assert_eq!(ok + dropped, 80_000);
    }
}
