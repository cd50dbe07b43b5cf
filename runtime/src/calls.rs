//! Completed calls per route: the count the profiler writes as its `requests` sample type.
//!
//! Each [`Route`] carries its own [`Calls`]: one relaxed atomic counter, incremented once per
//! completed call, and the link that puts the route on a process-wide list the first time it
//! completes one. The profiler walks that list at each interval and takes (swaps to zero) every
//! count, so the hot path is one `fetch_add` and one load of an already-set flag: no lock, no
//! allocation, no lookup. The list is what finds the routes no static list knows of (hand-written
//! routes, the framework adapters' unmatched routes).
//!
//! A call completes when a marked sync function returns (not when it unwinds), or when a marked
//! future (or a request through [`crate::axum`]/[`crate::actix`]) returns `Ready`. A call that
//! starts while its own route is already current is part of the call that made it current (the
//! framework layer's request, a recursive call) and is not counted again: see [`is_nested`].

use crate::Route;
use std::cmp::Ordering as Order;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// The completed calls of one route, and its link in the list of routes that have completed any.
///
/// Not part of a route's identity: every `Calls` compares equal and hashes to nothing, so that
/// `Route`'s `==`, ordering and hashing depend on its declaration only. Build it with
/// [`Calls::new`] in a route's `static` initializer.
pub struct Calls {
    /// Calls completed since the profiler last took the count.
    count: AtomicU64,
    /// Whether the route is on the list ([`CALLED`]); set once, never cleared.
    listed: AtomicBool,
    /// The route listed before this one; written once, before the route is published.
    next: AtomicPtr<Route>,
}

/// The most recently listed route, null while no route has completed a call.
static CALLED: AtomicPtr<Route> = AtomicPtr::new(ptr::null_mut());

impl Calls {
    /// No calls yet, not listed.
    pub const fn new() -> Calls {
        Calls {
            count: AtomicU64::new(0),
            listed: AtomicBool::new(false),
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

impl Default for Calls {
    fn default() -> Calls {
        Calls::new()
    }
}

impl fmt::Debug for Calls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Calls")
            .field(&self.count.load(Ordering::Relaxed))
            .finish()
    }
}

impl PartialEq for Calls {
    fn eq(&self, _: &Calls) -> bool {
        true
    }
}

impl Eq for Calls {}

impl PartialOrd for Calls {
    fn partial_cmp(&self, other: &Calls) -> Option<Order> {
        Some(self.cmp(other))
    }
}

impl Ord for Calls {
    fn cmp(&self, _: &Calls) -> Order {
        Order::Equal
    }
}

impl Hash for Calls {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

/// Counts one completed call of `route`.
#[inline]
pub(crate) fn complete(route: &'static Route) {
    route.calls.count.fetch_add(1, Ordering::Relaxed);
    if !route.calls.listed.load(Ordering::Relaxed) {
        list(route);
    }
}

/// Puts `route` on the list, once: the first completed call of each route takes this path.
#[cold]
#[inline(never)]
fn list(route: &'static Route) {
    if route.calls.listed.swap(true, Ordering::AcqRel) {
        return;
    }
    let route_ptr = ptr::from_ref(route).cast_mut();
    let mut head = CALLED.load(Ordering::Relaxed);
    loop {
        route.calls.next.store(head, Ordering::Relaxed);
        // Release: a walker that loads this head sees `next` as stored above.
        match CALLED.compare_exchange_weak(head, route_ptr, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => return,
            Err(current) => head = current,
        }
    }
}

/// Whether a call of `route` that starts while `current` is the current route is part of the
/// call that made `current` current: the same route, by address or, for the copies another
/// attribute macro makes of a record, by value (the line first, which tells most routes apart).
#[inline]
pub(crate) fn is_nested(current: &'static Route, route: &'static Route) -> bool {
    ptr::eq(current, route) || (current.line == route.line && current == route)
}

/// Takes every route's count of calls completed since the last take, calling `each` with the
/// routes whose count was not zero, most recently listed first. Calls completing meanwhile are
/// either in this take or in the next one, never in both and never lost.
#[cfg_attr(
    not(all(feature = "profiler", target_os = "linux")),
    allow(dead_code, reason = "the profiler is its only caller")
)]
pub(crate) fn take(mut each: impl FnMut(&'static Route, u64)) {
    let mut at = CALLED.load(Ordering::Acquire);
    // SAFETY: the list holds only pointers made from `&'static Route`s (see `list`).
    while let Some(route) = unsafe { at.cast_const().as_ref() } {
        let count = route.calls.count.swap(0, Ordering::Relaxed);
        if count > 0 {
            each(route, count);
        }
        at = route.calls.next.load(Ordering::Acquire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FeatureInfo, RouteKind};

    const fn route(endpoint: &'static str, line: u32) -> Route {
        Route {
            kind: RouteKind::Task,
            method: "",
            path: "",
            endpoint,
            feature: FeatureInfo {
                name: "messaging",
                id: 1,
                group: "chat",
                team: "msgs-team",
                tier: "S",
            },
            module: module_path!(),
            file: file!(),
            line,
            calls: Calls::new(),
        }
    }

    static FIRST: Route = route("first", 1);
    static SECOND: Route = route("second", 2);
    static FIRST_COPY: Route = route("first", 1);

    /// The counts of this module's routes in one take (tests elsewhere list other routes).
    fn taken() -> (u64, u64) {
        let (mut first, mut second) = (0, 0);
        take(|route, count| {
            if ptr::eq(route, &FIRST) {
                first += count;
            } else if ptr::eq(route, &SECOND) {
                second += count;
            }
        });
        (first, second)
    }

    #[test]
    fn counts_are_taken_once_from_every_thread() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..1000 {
                        complete(&FIRST);
                    }
                    complete(&SECOND);
                })
            })
            .collect();
        let mut total = (0, 0);
        for thread in threads {
            let (first, second) = taken();
            total = (total.0 + first, total.1 + second);
            thread.join().unwrap();
        }
        let (first, second) = taken();
        assert_eq!((total.0 + first, total.1 + second), (4000, 4));
        assert_eq!(taken(), (0, 0));
    }

    #[test]
    fn copies_of_a_record_are_the_same_route() {
        assert!(is_nested(&FIRST, &FIRST));
        assert!(is_nested(&FIRST_COPY, &FIRST));
        assert!(!is_nested(&SECOND, &FIRST));
        assert!(!is_nested(&crate::context::NO_ROUTE, &FIRST));
    }
}
