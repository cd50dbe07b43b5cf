//! Deeply nested Rust within bounds: syn parses by recursive descent and its tree is visited
//! and dropped recursively, so a file nested thousands of levels deep (a long `.route()`
//! chain, a huge sum, thousands of parentheses) would overflow a thread's stack and abort the
//! whole run.
//!
//! Before parsing, a lexical pass counts the nesting units of the text
//! ([`Triggers::nesting`](super::prune::Triggers::nesting)). Up to what the calling thread's
//! stack holds ([`INLINE_UNITS`] on an ordinary thread, about 2,700 on the parser threads of
//! [`on_parser_threads`]) the file is parsed on the calling thread; up to [`MAX_NESTING`] on a
//! thread whose stack is sized to the count; past it the file is a `parse-error` finding and
//! every other file is still linted.

use std::cell::Cell;
use std::thread;

use super::prune::Triggers;
use crate::finding::Location;

/// Most nesting units a Rust file may have (1,000 nested parentheses are 2,000 units; each
/// call of a method chain is 3, each term of a sum 2).
pub const MAX_NESTING: usize = 10_000;

/// Nesting units parsed on an ordinary calling thread (2 MiB of stack by default).
const INLINE_UNITS: usize = 32;

/// Stack of the parser threads ([`on_parser_threads`]): room for every file of ordinary
/// code. A router of a few routes is already past [`INLINE_UNITS`], and a thread spawned per
/// file cost more than parsing it (a new stack and a new allocator heap, both page-faulted
/// in): on a monorepo where every file has a router, half of the lint's CPU time.
const PARSER_STACK: usize = 128 << 20;

thread_local! {
    /// Nesting units the current thread's stack can parse.
    static INLINE: Cell<usize> = const { Cell::new(INLINE_UNITS) };
}

/// Runs `work` on `threads` parser threads at once (on the calling thread if none can be
/// started), each with a stack on which files nested up to about 2,700 units parse without a
/// thread of their own.
pub(crate) fn on_parser_threads(threads: usize, work: impl Fn() + Sync) {
    let work = &work;
    thread::scope(|scope| {
        let started = (0..threads.max(1))
            .filter(|_| {
                thread::Builder::new()
                    .name("featgen-lint".to_owned())
                    .stack_size(PARSER_STACK)
                    .spawn_scoped(scope, move || {
                        // The frames below the parse take far less than INLINE_UNITS' worth.
                        INLINE.set(PARSER_STACK / STACK_PER_UNIT - INLINE_UNITS);
                        work();
                    })
                    .is_ok()
            })
            .count();
        if started == 0 {
            work();
        }
    });
}

/// Stack reserved per nesting unit. Measured in debug builds (release needs less): about
/// 8 KiB per level of parentheses, up to 40 KiB per `&` of a reference type, the most
/// expensive construct found. The memory is only reserved: pages are committed as the
/// recursion reaches them.
const STACK_PER_UNIT: usize = 48 * 1024;

/// Runs `parse` on `text` (the text of `path`) with a stack deep enough for its nesting.
///
/// # Errors
/// Where the nesting exceeds [`MAX_NESTING`], or what `parse` returns.
pub(crate) fn guarded<R: Send>(
    path: &str,
    text: &str,
    triggers: &Triggers,
    parse: impl FnOnce() -> Result<R, (Location, String)> + Send,
) -> Result<R, (Location, String)> {
    // Every token adds at most two units (an open delimiter), and has a byte that is not
    // whitespace: a short text (most pruned files) cannot be deep, and need not be counted.
    let bound = 2 * text.bytes().filter(|b| !b.is_ascii_whitespace()).count();
    if bound <= INLINE.get() {
        return parse();
    }
    let (units, too_deep) = triggers.nesting(text, MAX_NESTING);
    if let Some(offset) = too_deep {
        let message = format!(
            "nested more deeply than featgen lint supports ({MAX_NESTING} levels of delimiters, \
             operators and method calls in one expression); split the expression"
        );
        return Err((location(path, text, offset), message));
    }
    if units <= INLINE.get() {
        return parse();
    }
    thread::scope(|scope| {
        thread::Builder::new()
            .name("featgen-lint-deep".to_owned())
            .stack_size((units + INLINE_UNITS) * STACK_PER_UNIT)
            .spawn_scoped(scope, parse)
            .map_err(|err| {
                let message = format!("cannot start a thread to parse a deeply nested file: {err}");
                (location(path, text, 0), message)
            })?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The 1-based line and character column of byte `offset` in `text`.
fn location(path: &str, text: &str, offset: usize) -> Location {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    Location {
        path: path.to_owned(),
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    }
}
