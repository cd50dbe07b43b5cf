//! The current route of the running thread: set by `#[route]`/`#[task]` per call (sync) and per
//! poll (async), read by [`current()`] and by the profiler's signal handler.
//!
//! The state is one const-initialized thread-local pointer. Because `Cell<*const Route>` needs no
//! destructor and no lazy initialization, reading it is a plain thread-local load, which is what
//! makes it safe to read from a signal handler.
//!
//! The pointer has three kinds of value: null on a thread that has never entered a route,
//! [`NO_ROUTE`] on one that has but is outside all routes now, and the current route. Folding
//! "has this thread entered a route before" into the same word keeps the per-poll path to one
//! load and two stores, with the once-per-thread check on the value already loaded.

use crate::calls;
use crate::{FeatureInfo, Route, RouteKind};
use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr;
use std::sync::Mutex;

thread_local! {
    /// The route whose code is running on this thread, [`NO_ROUTE`] for none, or null if this
    /// thread has never entered a route.
    static CURRENT: Cell<*const Route> = const { Cell::new(ptr::null()) };
}

/// "No route" on a thread that has entered one before. Only its address is used: it is never
/// handed out by [`current()`].
pub(crate) static NO_ROUTE: Route = Route {
    kind: RouteKind::Task,
    method: "",
    path: "",
    endpoint: "",
    feature: FeatureInfo {
        name: "",
        id: 0,
        group: "",
        team: "",
        tier: "",
    },
    module: "",
    file: "",
    line: 0,
    calls: crate::Calls::new(),
};

/// The hook installed by [`set_first_route_hook`] (the profiler's per-thread timer setup).
static FIRST_ROUTE_HOOK: Mutex<Option<fn()>> = Mutex::new(None);

/// The route whose code is running on this thread: the innermost `#[route]`/`#[task]` function
/// (or [`scope`](crate::scope)/[`enter`]) currently executing, or `None` outside of any.
///
/// Async functions set it only while they are being polled, so code between polls (the executor,
/// other tasks on the same thread) sees its own route, not theirs.
pub fn current() -> Option<&'static Route> {
    // SAFETY: `current_ptr` returns null or a pointer obtained from a `&'static Route`.
    unsafe { current_ptr().as_ref() }
}

/// The current route as a raw pointer, null when no route is set.
///
/// Async-signal-safe: a single load from a const-initialized thread-local without destructor,
/// so it neither allocates, nor locks, nor registers anything.
#[inline]
pub(crate) fn current_ptr() -> *const Route {
    let current = CURRENT.with(Cell::get);
    if ptr::eq(current, &NO_ROUTE) {
        ptr::null()
    } else {
        current
    }
}

/// Installs `hook`, called once per OS thread from normal (non-signal) context, the first time a
/// route is set on that thread; the profiler uses it to give each thread its own CPU timer.
///
/// Threads that set a route before the hook is installed are not called back: install it before
/// the threads that run routes start (the profiler starts before the runtime). Installing a new
/// hook replaces the previous one.
#[cfg_attr(
    not(all(feature = "profiler", target_os = "linux")),
    allow(dead_code, reason = "the profiler is its only caller")
)]
pub(crate) fn set_first_route_hook(hook: fn()) {
    *FIRST_ROUTE_HOOK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(hook);
}

/// The slow path of [`replace`], taken once per thread: runs the hook with no route set, then
/// sets `route` and returns [`NO_ROUTE`] as the route to restore.
#[cold]
#[inline(never)]
fn first_route_on_thread(route: &'static Route) -> &'static Route {
    CURRENT.with(|current| current.set(&NO_ROUTE));
    let hook = *FIRST_ROUTE_HOOK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(hook) = hook {
        hook();
    }
    CURRENT.with(|current| current.set(route));
    &NO_ROUTE
}

/// Makes `route` (a route or [`NO_ROUTE`]) current and returns the previous one, in the same form.
#[inline]
pub(crate) fn replace(route: &'static Route) -> &'static Route {
    let previous = CURRENT.with(|current| current.replace(route));
    // SAFETY: CURRENT only ever holds null or a pointer obtained from a `&'static Route`.
    match unsafe { previous.as_ref() } {
        Some(previous) => previous,
        None => first_route_on_thread(route),
    }
}

/// The current route in the form [`replace`] takes: [`NO_ROUTE`] when none is set.
pub(crate) fn current_or_no_route() -> &'static Route {
    current().unwrap_or(&NO_ROUTE)
}

/// Restores the previous current route when dropped, including during unwinding: what every
/// poll of a routed future or body holds (no call is counted here).
///
/// It is neither `Send` nor `Sync`: it belongs to the thread whose state it restores. Nested
/// guards must be dropped in reverse order, as scopes do.
#[must_use = "the route is restored as soon as the guard is dropped"]
pub(crate) struct Restore {
    /// The route that was current before [`set`] ([`NO_ROUTE`] for none).
    previous: &'static Route,
    /// `*const` makes the guard `!Send` and `!Sync`.
    _thread_bound: PhantomData<*const ()>,
}

impl Drop for Restore {
    #[inline]
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}

/// Makes `route` the current route of this thread until the returned guard is dropped, without
/// counting a call.
#[inline]
pub(crate) fn set(route: &'static Route) -> Restore {
    Restore {
        previous: replace(route),
        _thread_bound: PhantomData,
    }
}

/// Restores the previous current route when dropped, including during unwinding, and counts a
/// completed call of its route when dropped on return (see [`enter`]).
///
/// Returned by [`enter`]. It is neither `Send` nor `Sync`: it belongs to the thread whose state
/// it restores, which also keeps it from being held across an `.await` in a `Send` future (use
/// [`crate::scope`] for futures). Nested guards must be dropped in reverse order, as scopes do.
#[must_use = "the route is restored as soon as the guard is dropped"]
pub struct RouteGuard {
    /// The route whose call completes on drop; `None` when the call is nested in its own route.
    call: Option<&'static Route>,
    /// Dropped after the call is counted.
    _restore: Restore,
}

impl Drop for RouteGuard {
    #[inline]
    fn drop(&mut self) {
        // A call that unwinds did not complete.
        if let Some(route) = self.call
            && !std::thread::panicking()
        {
            calls::complete(route);
        }
    }
}

/// Makes `route` the current route of this thread until the returned guard is dropped, and
/// counts one completed call of it when the guard is dropped other than by a panic (unless
/// `route` was current already: a call nested in its own route is part of the outer one).
///
/// This is what `#[route]` and `#[task]` do around a sync function's body; use it directly for
/// code that cannot take the attribute.
#[inline]
pub fn enter(route: &'static Route) -> RouteGuard {
    let restore = set(route);
    RouteGuard {
        call: (!calls::is_nested(restore.previous, route)).then_some(route),
        _restore: restore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ROUTE: Route = Route {
        kind: RouteKind::Task,
        method: "",
        path: "",
        endpoint: "unit",
        feature: FeatureInfo {
            name: "messaging",
            id: 1,
            group: "chat",
            team: "msgs-team",
            tier: "S",
        },
        module: module_path!(),
        file: file!(),
        line: line!(),
        calls: crate::Calls::new(),
    };

    thread_local! {
        /// Hook calls on this thread (per thread, so tests running in parallel do not interfere).
        static HOOK_CALLS: Cell<u32> = const { Cell::new(0) };
    }

    fn count_hook_call() {
        assert!(
            current_ptr().is_null(),
            "the hook runs before the route is set"
        );
        HOOK_CALLS.with(|calls| calls.set(calls.get() + 1));
    }

    /// Enters routes (nested) a few times and returns how often the hook ran on this thread.
    fn run_routes() -> u32 {
        for _ in 0..3 {
            let _outer = enter(&ROUTE);
            let _inner = enter(&ROUTE);
        }
        HOOK_CALLS.with(Cell::get)
    }

    #[test]
    fn the_first_route_hook_runs_once_per_thread() {
        set_first_route_hook(count_hook_call);
        assert_eq!(std::thread::spawn(run_routes).join().unwrap(), 1);
        assert_eq!(std::thread::spawn(run_routes).join().unwrap(), 1);
        run_routes();
        assert_eq!(run_routes(), 1);
    }

    #[test]
    fn the_raw_pointer_is_null_outside_routes() {
        assert!(current_ptr().is_null());
        {
            let _guard = enter(&ROUTE);
            assert!(std::ptr::eq(current_ptr(), &ROUTE));
            assert_eq!(current().map(|route| route.endpoint), Some("unit"));
        }
        assert!(current_ptr().is_null());
    }
}
