//! Frame-pointer stack walking from the interrupted context, safe to run in a signal handler.
//!
//! The system unwinder (libgcc/libunwind) takes locks and may allocate, so the handler instead
//! follows the frame-pointer chain: each frame stores the caller's frame pointer and the return
//! address next to each other. Every load is checked to lie between the interrupted stack
//! pointer and the top of the thread's stack, a range that is always mapped, so a corrupt chain
//! (code built without frame pointers reuses the register) ends the walk instead of faulting.

use std::ops::Range;

/// The registers the walk starts from, read from the signal's `ucontext_t`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Registers {
    pub pc: usize,
    pub fp: usize,
    pub sp: usize,
}

impl Registers {
    /// Reads the interrupted registers.
    ///
    /// # Safety
    /// `context` must be the `ucontext_t` pointer handed to an `SA_SIGINFO` handler.
    #[cfg(target_arch = "x86_64")]
    pub(crate) unsafe fn from_context(context: *const libc::c_void) -> Registers {
        // SAFETY: the caller passes the kernel-provided ucontext of the current signal.
        let gregs = unsafe { &(*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
        let reg = |index: libc::c_int| gregs[index as usize] as usize;
        Registers {
            pc: reg(libc::REG_RIP),
            fp: reg(libc::REG_RBP),
            sp: reg(libc::REG_RSP),
        }
    }

    /// Reads the interrupted registers.
    ///
    /// # Safety
    /// `context` must be the `ucontext_t` pointer handed to an `SA_SIGINFO` handler.
    #[cfg(target_arch = "aarch64")]
    pub(crate) unsafe fn from_context(context: *const libc::c_void) -> Registers {
        // SAFETY: the caller passes the kernel-provided ucontext of the current signal.
        let mcontext = unsafe { &(*context.cast::<libc::ucontext_t>()).uc_mcontext };
        Registers {
            pc: mcontext.pc as usize,
            fp: mcontext.regs[29] as usize,
            sp: mcontext.sp as usize,
        }
    }
}

/// Walks the stack from `regs` into `out` (program counter first, then return addresses) and
/// returns how many entries were written and whether the chain went on past `out`'s capacity.
///
/// `stack` is the address range of the interrupted thread's stack, empty when unknown; then, or
/// when the stack pointer is not in it (an alternate signal stack, a coroutine), only the program
/// counter is recorded.
///
/// # Safety
/// `stack` must be empty or lie within the mapped stack of the thread that was interrupted.
pub(crate) unsafe fn walk(
    regs: Registers,
    stack: Range<usize>,
    out: &mut [usize],
) -> (usize, bool) {
    const WORD: usize = size_of::<usize>();
    if out.is_empty() {
        return (0, regs.pc != 0);
    }
    out[0] = regs.pc;
    let mut depth = 1;
    if !stack.contains(&regs.sp) {
        return (depth, false);
    }
    let stack_top = stack.end;
    // Frames only move towards the top of the stack; `floor` is the lowest valid next frame.
    let mut floor = regs.sp;
    let mut fp = regs.fp;
    loop {
        if fp < floor || !fp.is_multiple_of(WORD) || fp > stack_top.saturating_sub(2 * WORD) {
            return (depth, false);
        }
        // SAFETY: [fp, fp + 2 words) lies within [sp, stack_top), the live part of the thread's
        // stack, which is mapped and readable; volatile because it may change under us.
        let (next, ret) = unsafe {
            (
                std::ptr::read_volatile(fp as *const usize),
                std::ptr::read_volatile((fp + WORD) as *const usize),
            )
        };
        if ret == 0 {
            return (depth, false);
        }
        if depth == out.len() {
            return (depth, true);
        }
        out[depth] = ret;
        depth += 1;
        floor = fp + 2 * WORD;
        fp = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a fake stack of `frames` linked frames in a buffer and returns (registers, range).
    fn fake_stack(buf: &mut [usize], frames: usize) -> (Registers, Range<usize>) {
        let base = buf.as_ptr() as usize;
        let word = size_of::<usize>();
        // Frame i lives at index 2*i: [caller fp, return address 1000+i].
        for i in 0..frames {
            let next = if i + 1 < frames {
                base + 2 * (i + 1) * word
            } else {
                0
            };
            buf[2 * i] = next;
            buf[2 * i + 1] = 1000 + i;
        }
        let regs = Registers {
            pc: 7,
            fp: base,
            sp: base,
        };
        (regs, base..base + size_of_val(buf))
    }

    #[test]
    fn follows_the_chain_to_its_end() {
        let mut buf = vec![0usize; 64];
        let (regs, top) = fake_stack(&mut buf, 5);
        let mut out = [0usize; 16];
        // SAFETY: `top` is the range of `buf`, which holds the whole fake stack.
        let (depth, truncated) = unsafe { walk(regs, top.clone(), &mut out) };
        assert_eq!(&out[..depth], &[7, 1000, 1001, 1002, 1003, 1004]);
        assert!(!truncated);
    }

    #[test]
    fn stops_at_capacity_and_reports_truncation() {
        let mut buf = vec![0usize; 64];
        let (regs, top) = fake_stack(&mut buf, 10);
        let mut out = [0usize; 4];
        // SAFETY: as above.
        let (depth, truncated) = unsafe { walk(regs, top.clone(), &mut out) };
        assert_eq!(&out[..depth], &[7, 1000, 1001, 1002]);
        assert!(truncated);
    }

    #[test]
    fn rejects_pointers_outside_the_stack_and_loops() {
        let mut buf = vec![0usize; 64];
        let (regs, top) = fake_stack(&mut buf, 3);
        // A frame pointing back down (a loop) ends the walk.
        buf[2] = regs.fp;
        let mut out = [0usize; 16];
        // SAFETY: as above.
        let (depth, _) = unsafe { walk(regs, top.clone(), &mut out) };
        assert_eq!(&out[..depth], &[7, 1000, 1001]);
        // A frame pointer far outside the stack is never dereferenced.
        let wild = Registers { fp: 16, ..regs };
        // SAFETY: as above; the walk must not read address 16.
        let (depth, _) = unsafe { walk(wild, top.clone(), &mut out) };
        assert_eq!(depth, 1);
        // Unknown stack: program counter only.
        // SAFETY: an empty range means unknown.
        let (depth, _) = unsafe { walk(regs, 0..0, &mut out) };
        assert_eq!(depth, 1);
    }
}
