//! The whole request under its route, for axum: [`RouteLayer`], a tower layer that makes the
//! route the router matched current for every poll of the request (extractors, handler, response
//! conversion) and of a streamed response body.
//!
//! `#[route]` alone covers only the handler's own body; JSON extraction and the serialization and
//! writing of the response run outside it. Installed on the router, the layer covers them:
//!
//! ```
//! # mod features { pub use featgen_features::Feature; }
//! use axum::{Router, routing::get};
//! use features::Feature;
//!
//! #[featgen::route(GET, "/users/@me", feature = Profiles)]
//! async fn me() -> &'static str { "you" }
//!
//! let app: Router = Router::new()
//!     .route("/users/@me", get(me))
//!     .layer(featgen::axum::RouteLayer::new()); // after the routes: it wraps those added before
//! ```
//!
//! The route is looked up by the request's method and axum's [`MatchedPath`] in
//! [`crate::routes()`] (an attribute's `:param` is read as `{param}`; `HEAD` falls back to `GET`,
//! as axum routes it), then in the explicit mappings added with [`RouteLayer::route`]. A request
//! that matches neither runs under an *unmatched* route of its own (see [`unmatched`]) rather than
//! under none.
//!
//! The connection's own work for a request (hyper reading and parsing it, encoding the response
//! and writing it to the socket) runs in the connection's task, outside the request's polls; with
//! the `axum-serve` feature, serve the router with `serve` (axum's `serve`) to put that under the
//! request's route too, on HTTP/1.1 connections.

pub use crate::request::{FALLBACK_PATH, unmatched};
#[cfg(feature = "axum-serve")]
pub use serve::serve;

#[cfg(feature = "axum-serve")]
mod serve;

use crate::Route;
#[cfg(not(feature = "axum-serve"))]
use crate::context::current_or_no_route;
use crate::context::set;
use crate::future::Routed;
use crate::request::RouteTable;
use axum::BoxError;
use axum::body::Bytes;
use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};

/// A tower layer that runs each request under its route: every poll of the inner service's
/// future and of a streamed response body, and the drop of each, restoring the previous route
/// after each, as `#[route]` does for a handler's body. A buffered body (its exact length known)
/// is returned as it is: its polls only hand over data it holds (see `routed_body`).
///
/// Add it to the `Router` with `.layer(..)` after the routes (and fallback) it should cover;
/// axum applies it to each route, where [`MatchedPath`] is known. A `#[route]` handler inside
/// still sets its own route while its body runs (nested routes override), so no CPU is counted
/// twice: the layer's route covers everything around the handler's body.
///
/// Each request counts one completed call of its route when the inner service's future returns
/// the response (for the profiler's `requests`). A `#[route]` handler of the same route does not
/// count again: its call starts while the layer has made that route current, so it is part of
/// the request's call. A handler marked with another route than the one the request runs under
/// (an explicit [`RouteLayer::route`] mapping) counts a call of its own route.
#[derive(Clone, Debug)]
pub struct RouteLayer {
    table: Table,
}

/// The routes a layer knows. axum clones the layer's service for every request, so the common
/// case, the marked routes alone, is a table built once per process rather than an `Arc` whose
/// count every request would increment and decrement (from every worker thread).
#[derive(Clone, Debug)]
enum Table {
    /// [`RouteTable::marked`], once per process.
    Marked,
    /// The marked routes with explicit mappings.
    Mapped(Arc<RouteTable>),
}

impl Table {
    #[inline]
    fn get(&self) -> &RouteTable {
        static MARKED: LazyLock<RouteTable> = LazyLock::new(RouteTable::marked);
        match self {
            Table::Marked => &MARKED,
            Table::Mapped(table) => table,
        }
    }
}

impl RouteLayer {
    /// A layer that knows every `#[route]` endpoint of the binary ([`crate::routes()`]).
    pub fn new() -> RouteLayer {
        RouteLayer {
            table: Table::Marked,
        }
    }

    /// Runs requests for `method` (`"GET"`) and `path` (as written in the router, `/health`,
    /// `/users/{id}`) under `route`: for handlers that are not marked, or for a route that should
    /// cover a path other than its own. Overrides a marked route of the same method and path.
    pub fn route(mut self, method: &'static str, path: &str, route: &'static Route) -> RouteLayer {
        if let Table::Marked = self.table {
            self.table = Table::Mapped(Arc::new(Table::Marked.get().clone()));
        }
        if let Table::Mapped(table) = &mut self.table {
            Arc::make_mut(table).insert(method, path, route);
        }
        self
    }
}

impl Default for RouteLayer {
    fn default() -> RouteLayer {
        RouteLayer::new()
    }
}

impl<S> tower_layer::Layer<S> for RouteLayer {
    type Service = RouteService<S>;

    fn layer(&self, inner: S) -> RouteService<S> {
        RouteService {
            inner,
            table: self.table.clone(),
        }
    }
}

/// The service [`RouteLayer`] wraps around each route.
#[derive(Clone, Debug)]
pub struct RouteService<S> {
    inner: S,
    table: Table,
}

impl<S, RequestBody, ResponseBody> tower_service::Service<Request<RequestBody>> for RouteService<S>
where
    S: tower_service::Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    ResponseBody: Body<Data = Bytes> + Send + 'static,
    ResponseBody::Error: Into<BoxError>,
{
    type Response = Response<axum::body::Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Request<RequestBody>) -> ResponseFuture<S::Future> {
        let matched_path = request.extensions().get::<MatchedPath>();
        let route = self.table.get().route_for(
            request.method().as_str(),
            matched_path.map(MatchedPath::as_str),
        );
        // The route the request's call is within, for counting it: under `serve`, not the
        // connection's route (the previous request's), which it switches to `route`.
        #[cfg(feature = "axum-serve")]
        let outer = serve::request_routed(request.extensions(), route);
        #[cfg(not(feature = "axum-serve"))]
        let outer = current_or_no_route();
        let future = {
            let _route = set(route);
            self.inner.call(request)
        };
        ResponseFuture {
            inner: Routed::call_within(outer, route, future),
        }
    }
}

/// The future of [`RouteService`]: the inner service's future under the route, whose response
/// body is then wrapped to run under it too.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture<F> {
    inner: Routed<F>,
}

impl<F, ResponseBody, Error> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResponseBody>, Error>>,
    ResponseBody: Body<Data = Bytes> + Send + 'static,
    ResponseBody::Error: Into<BoxError>,
{
    type Output = Result<Response<axum::body::Body>, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out, and `ResponseFuture`
        // has no `Drop` and is `Unpin` only when `Routed<F>` is.
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        let route = inner.route();
        inner
            .poll(cx)
            .map_ok(|response| response.map(|body| routed_body(route, body)))
    }
}

/// The response body as axum's `Body`, run under `route` when its polls can do work of their own.
///
/// A body that knows its exact length before its first poll holds its data already (axum's
/// buffered bodies: JSON, strings, bytes, empty): its polls only hand that data over, so it is
/// returned as it is, and axum's `Body` is not boxed again (`Body::new` of a `Body` unwraps it;
/// of a `Routed<Body>` it allocates once more per request). Any other body (a stream) is wrapped
/// so that every poll of it and its drop run under `route`. With `serve` the polls of an
/// unwrapped body run in the connection's task, under the connection's route, which is the
/// request's; with `axum::serve` they run under no route (the hand-over, and the free of the
/// data after it is written, which that server leaves unattributed anyway).
#[inline]
fn routed_body<B>(route: &'static Route, body: B) -> axum::body::Body
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    if body.size_hint().exact().is_some() {
        axum::body::Body::new(body)
    } else {
        axum::body::Body::new(Routed::new(route, body))
    }
}

/// A response body under its route: `Routed` polls it like a future, with the route current
/// during every `poll_frame` and while the body is dropped.
impl<B: Body> Body for Routed<B> {
    type Data = B::Data;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let (route, body) = self.project();
        let _route = set(route);
        body.poll_frame(cx)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.get_ref().is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.get_ref().size_hint()
    }
}
