//! Futures that run under a route: set on every poll, restored when the poll returns, and set
//! while the inner future is dropped.

use crate::Route;
use crate::calls;
use crate::context::{current_or_no_route, set};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future that makes its route current while it is polled or dropped.
///
/// With the `axum` feature it is also an HTTP response body (`http_body::Body`), and with
/// `actix-web` an actix `MessageBody`, current while each chunk is polled: how the framework
/// adapters ([`crate::axum`], [`crate::actix`]) cover the writing of the response.
///
/// Built by [`scope`], [`in_current_route`] and the code `#[route]`/`#[task]` generate for async
/// functions. No guard lives across `.await`: the route is set at the start of each `poll` and
/// the previous one restored when `poll` returns or unwinds, so tasks interleaving on one thread
/// each see their own route.
#[must_use = "futures do nothing unless polled"]
pub struct Routed<F> {
    /// The route, and whether the future's completion is a call of it still to be counted.
    call: Call,
    /// Dropped by hand in `Drop`, under the route, so destructors of the body's locals see it.
    inner: ManuallyDrop<F>,
}

/// The route a [`Routed`] runs under and its call still to be counted, apart from the future so
/// that the `Ready` path takes one pointer to it, out of line (see [`Call::complete`]).
struct Call {
    /// The route to set, or `NO_ROUTE` to run with none (see [`in_current_route`]).
    route: &'static Route,
    /// Whether the future's completion is a call of `route` still to be counted.
    counts: bool,
}

impl Call {
    /// Counts the call if it is still to be counted; once, even if the future is (wrongly)
    /// polled again after `Ready`.
    ///
    /// Out of line and cold: a future completes once and is polled many times, and keeping the
    /// count off the inlined poll leaves the per-poll path with one test of `Ready` and no value
    /// of its own live across the inner poll (the registers it would take spill the caller's).
    #[cold]
    #[inline(never)]
    fn complete(&mut self) {
        if self.counts {
            self.counts = false;
            calls::complete(self.route);
        }
    }
}

impl<F> Routed<F> {
    /// Wraps `inner` so that it runs under `route` (or under none), counting no call: for work
    /// that is part of a call counted elsewhere (a response body, a spawned task).
    #[inline]
    pub(crate) fn new(route: &'static Route, inner: F) -> Self {
        Routed {
            call: Call {
                route,
                counts: false,
            },
            inner: ManuallyDrop::new(inner),
        }
    }

    /// Wraps `inner`, one call of `route`, so that it runs under `route` and counts one completed
    /// call of it when it returns `Ready`, unless `route` is current already (then the call is
    /// part of the one that made it current: see [`crate::calls`]).
    #[inline]
    pub(crate) fn call(route: &'static Route, inner: F) -> Self {
        Routed::call_within(current_or_no_route(), route, inner)
    }

    /// [`Routed::call`] for a call that started while `outer` was current (`NO_ROUTE` for
    /// none): for callers that change the current route before wrapping the call.
    #[inline]
    pub(crate) fn call_within(outer: &'static Route, route: &'static Route, inner: F) -> Self {
        Routed {
            call: Call {
                route,
                counts: !calls::is_nested(outer, route),
            },
            inner: ManuallyDrop::new(inner),
        }
    }

    /// The route it runs under.
    #[cfg_attr(
        not(any(feature = "axum", feature = "actix-web")),
        allow(dead_code, reason = "only the framework adapters read it")
    )]
    #[inline]
    pub(crate) fn route(&self) -> &'static Route {
        self.call.route
    }

    /// The wrapped value, for calls that need no route (size hints).
    #[cfg_attr(
        not(any(feature = "axum", feature = "actix-web")),
        allow(dead_code, reason = "only the framework adapters read it")
    )]
    #[inline]
    pub(crate) fn get_ref(&self) -> &F {
        &self.inner
    }

    /// The route and the pinned wrapped value, for wrappers that poll something other than a
    /// future (response bodies) under the route.
    #[cfg_attr(
        not(any(feature = "axum", feature = "actix-web")),
        allow(dead_code, reason = "only the framework adapters poll bodies")
    )]
    #[inline]
    pub(crate) fn project(self: Pin<&mut Self>) -> (&'static Route, Pin<&mut F>) {
        let (call, inner) = self.project_call();
        (call.route, inner)
    }

    /// [`Routed::project`] with the call still to be counted.
    #[inline]
    fn project_call(self: Pin<&mut Self>) -> (&mut Call, Pin<&mut F>) {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self` (only dropped
        // in place in `Drop`), and `Routed` has no `Unpin` impl of its own beyond the auto one,
        // which requires `F: Unpin`. `ManuallyDrop<F>` has the same layout and pinning as `F`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let inner = unsafe { Pin::new_unchecked(&mut *this.inner) };
        (&mut this.call, inner)
    }
}

impl<F: Future> Future for Routed<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let (call, inner) = self.project_call();
        let _guard = set(call.route);
        let poll = inner.poll(cx);
        if poll.is_ready() {
            call.complete();
        }
        poll
    }
}

impl<F> Drop for Routed<F> {
    fn drop(&mut self) {
        let _guard = set(self.call.route);
        // SAFETY: `inner` is dropped exactly once, here, in place (which also honours pinning).
        unsafe { ManuallyDrop::drop(&mut self.inner) }
    }
}

/// Runs `future` under `route`: the route is current during every poll of `future` and while it
/// is dropped, and its completion (`Ready`) counts one completed call of `route`, unless `route`
/// is current when `scope` is called (a call nested in its own route is part of the outer one).
/// This is what `#[route]`/`#[task]` do for async functions; use it directly for futures that
/// cannot take the attribute.
#[inline]
pub fn scope<F: Future>(route: &'static Route, future: F) -> Routed<F> {
    Routed::call(route, future)
}

/// Runs `future` under the route that is current now (or under none if none is). It counts no
/// call: the work belongs to the call that is running.
///
/// A spawned task does not inherit the route of the code that spawned it; wrap it to carry it:
/// `tokio::spawn(featgen::in_current_route(async move { .. }))`.
#[inline]
pub fn in_current_route<F: Future>(future: F) -> Routed<F> {
    Routed::new(current_or_no_route(), future)
}
