//! The whole request under its route, for actix-web: [`RouteMiddleware`] makes the route of the
//! request's resource current for every poll of the request (extractors, handler, responder) and
//! of the response body.
//!
//! ```
//! # mod features { pub use featgen_features::Feature; }
//! use actix_web::{App, web};
//! use features::Feature;
//!
//! #[featgen::route(GET, "/users/{id}", feature = Profiles)]
//! async fn user(id: web::Path<u64>) -> String { id.to_string() }
//!
//! let app = App::new()
//!     .route("/users/{id}", web::get().to(user))
//!     .wrap(featgen::actix::RouteMiddleware::new());
//! ```
//!
//! The route is looked up by the request's method and the pattern of the resource its path
//! matches (`ResourceMap::match_pattern`, so the middleware works wrapped around the whole `App`,
//! before routing) in [`crate::routes()`], then in the mappings added with
//! [`RouteMiddleware::route`]; a request that matches neither runs under its [`unmatched`]
//! route.

pub use crate::request::{FALLBACK_PATH, unmatched};

use crate::Route;
use crate::context::set;
use crate::future::Routed;
use crate::request::RouteTable;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::web::Bytes;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Middleware that runs each request under its route: every poll of the wrapped service's
/// future and of the response body, and the drop of each, restoring the previous route after
/// each, as `#[route]` does for a handler's body. A `#[route]` handler inside still sets its own
/// route while its body runs, so no CPU is counted twice.
///
/// Each request counts one completed call of its route when the wrapped service's future
/// returns the response. A `#[route]` handler of the same route does not count again: its call
/// starts while the middleware has made that route current, so it is part of the request's call.
#[derive(Clone, Debug)]
pub struct RouteMiddleware {
    table: Arc<RouteTable>,
}

impl RouteMiddleware {
    /// Middleware that knows every `#[route]` endpoint of the binary ([`crate::routes()`]).
    pub fn new() -> RouteMiddleware {
        RouteMiddleware {
            table: Arc::new(RouteTable::marked()),
        }
    }

    /// Runs requests for `method` (`"GET"`) and the resource pattern `path` (`/health`,
    /// `/users/{id}`) under `route`: for handlers that are not marked. Overrides a marked route
    /// of the same method and path.
    pub fn route(
        mut self,
        method: &'static str,
        path: &str,
        route: &'static Route,
    ) -> RouteMiddleware {
        Arc::make_mut(&mut self.table).insert(method, path, route);
        self
    }
}

impl Default for RouteMiddleware {
    fn default() -> RouteMiddleware {
        RouteMiddleware::new()
    }
}

impl<S, B> Transform<S, ServiceRequest> for RouteMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>>,
    B: MessageBody,
{
    type Response = ServiceResponse<Routed<B>>;
    type Error = S::Error;
    type Transform = RouteMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<RouteMiddlewareService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RouteMiddlewareService {
            service,
            table: self.table.clone(),
        }))
    }
}

/// The service [`RouteMiddleware`] wraps around the application.
pub struct RouteMiddlewareService<S> {
    service: S,
    table: Arc<RouteTable>,
}

impl<S, B> Service<ServiceRequest> for RouteMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>>,
    B: MessageBody,
{
    type Response = ServiceResponse<Routed<B>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> ResponseFuture<S::Future> {
        let matched_path = request.resource_map().match_pattern(request.path());
        let route = self
            .table
            .route_for(request.method().as_str(), matched_path.as_deref());
        let future = {
            let _route = set(route);
            self.service.call(request)
        };
        ResponseFuture {
            inner: Routed::call(route, future),
        }
    }
}

/// The future of [`RouteMiddlewareService`]: the wrapped service's future under the route, whose
/// response body is then wrapped to run under it too.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture<F> {
    inner: Routed<F>,
}

impl<F, B, Error> Future for ResponseFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<Routed<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out, and `ResponseFuture`
        // has no `Drop` and is `Unpin` only when `Routed<F>` is.
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        let route = inner.route();
        inner
            .poll(cx)
            .map_ok(|response| response.map_body(|_, body| Routed::new(route, body)))
    }
}

/// A response body under its route: current during every `poll_next` and while it is dropped.
impl<B: MessageBody> MessageBody for Routed<B> {
    type Error = B::Error;

    #[inline]
    fn size(&self) -> BodySize {
        self.get_ref().size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, B::Error>>> {
        let (route, body) = self.project();
        let _route = set(route);
        body.poll_next(cx)
    }
}
