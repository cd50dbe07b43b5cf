//! `featgen::axum::RouteLayer`: the route a request runs under in every part of it (extractor,
//! handler, nested marked calls, every poll of a streamed response body, the body's drop), the
//! route restored after each poll, unmatched and mapped routes, `HEAD` and the fallback.

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use featgen::axum::RouteLayer;
use featgen::{FeatureInfo, Route, RouteKind, route};
use featgen_features::Feature;
use http_body::Frame;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tower::ServiceExt;

/// What each part of a request saw as the current endpoint, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<(&'static str, String)>>>);

impl Log {
    /// Records the current endpoint (`none` outside routes, `feature=` appended when the route
    /// has no feature) as seen by `part`.
    fn record(&self, part: &'static str) {
        let seen = featgen::current().map_or("none".to_owned(), |route| {
            if route.feature.name.is_empty() {
                format!("{} (no feature)", route.endpoint)
            } else {
                route.endpoint.to_owned()
            }
        });
        self.0.lock().unwrap().push((part, seen));
    }

    fn take(&self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// An extractor that records the route it runs under and hands the log to the handler.
struct Probe(Log);

impl<S: Sync> FromRequestParts<S> for Probe {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Probe, StatusCode> {
        let log = parts.extensions.get::<Log>().cloned().unwrap();
        log.record("extractor");
        Ok(Probe(log))
    }
}

/// A streamed response body: three frames, pending once before each, recording the route of
/// every poll and of its drop.
struct Streamed {
    log: Log,
    frames_left: u8,
    pending_next: bool,
}

impl http_body::Body for Streamed {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.log.record("body poll");
        if self.frames_left == 0 {
            return Poll::Ready(None);
        }
        if std::mem::take(&mut self.pending_next) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.frames_left -= 1;
        self.pending_next = true;
        Poll::Ready(Some(Ok(Frame::data("chunk ".into()))))
    }
}

impl Drop for Streamed {
    fn drop(&mut self) {
        self.log.record("body drop");
    }
}

/// A marked function the handler calls: its own route overrides the handler's.
#[route(GET, "/nested-only", feature = Attachments, endpoint = "nested")]
fn nested(log: &Log) {
    log.record("nested");
}

#[route(POST, "/items/{id}", feature = Messaging, endpoint = "items.create")]
async fn create_item(Probe(log): Probe) -> Response {
    log.record("handler");
    nested(&log);
    tokio::task::yield_now().await;
    log.record("handler after await");
    let body = Streamed {
        log,
        frames_left: 2,
        pending_next: true,
    };
    Body::new(body).into_response()
}

/// Not marked.
async fn health(Probe(log): Probe) -> &'static str {
    log.record("handler");
    "ok"
}

#[route(GET, "/items", feature = MessageHistory, endpoint = "items.list")]
async fn list_items(Probe(log): Probe) -> &'static str {
    log.record("handler");
    "[]"
}

async fn fallback(Probe(log): Probe) -> StatusCode {
    log.record("handler");
    StatusCode::NOT_FOUND
}

/// Where mapped requests run: a hand-written route, as for handlers that cannot be marked.
static HEALTH: Route = hand_written("health");

/// A hand-written route of feature `profiles` named `endpoint`.
const fn hand_written(endpoint: &'static str) -> Route {
    Route {
        kind: RouteKind::Endpoint,
        method: "GET",
        path: "/health",
        endpoint,
        feature: FeatureInfo {
            name: "profiles",
            id: 0,
            group: "accounts",
            team: "accounts-team",
            tier: "A",
        },
        module: module_path!(),
        file: file!(),
        line: line!(),
        calls: featgen::Calls::new(),
    }
}

fn app(layer: RouteLayer) -> Router {
    Router::new()
        .route("/items/{id}", post(create_item))
        .route("/items", get(list_items))
        .route("/health", get(health))
        .fallback(fallback)
        .layer(layer)
}

/// A future that polls `inner` under the route `outer` and records, after every poll, whether
/// `outer` is current again.
struct UnderOuter<F> {
    inner: Pin<Box<F>>,
    outer: &'static Route,
    restored: Arc<Mutex<Vec<bool>>>,
}

impl<F: Future> Future for UnderOuter<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _outer = featgen::enter(self.outer);
        let poll = self.inner.as_mut().poll(cx);
        let restored = featgen::current().is_some_and(|route| std::ptr::eq(route, self.outer));
        self.restored.lock().unwrap().push(restored);
        poll
    }
}

/// Sends `method path` through `app` and reads the whole body, every poll made under the route
/// `HEALTH`, on a current-thread runtime; returns the log, the status and the body.
fn send(app: Router, method: Method, path: &str) -> (Vec<(&'static str, String)>, u16, String) {
    let log = Log::default();
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(log.clone());
    let restored = Arc::new(Mutex::new(Vec::new()));
    let exchange = async move {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    };
    let (status, body) = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(UnderOuter {
            inner: Box::pin(exchange),
            outer: &HEALTH,
            restored: restored.clone(),
        });
    let restored = restored.lock().unwrap();
    assert!(!restored.is_empty());
    assert!(
        restored.iter().all(|&r| r),
        "the outer route after every poll"
    );
    assert!(featgen::current().is_none());
    (log.take(), status, body)
}

fn parts<'a>(log: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    log.iter()
        .map(|(part, seen)| (*part, seen.as_str()))
        .collect()
}

#[test]
fn every_part_of_a_request_runs_under_its_route_and_the_handler_under_its_own() {
    let (log, status, body) = send(app(RouteLayer::new()), Method::POST, "/items/7");
    assert_eq!((status, body.as_str()), (200, "chunk chunk "));
    assert_eq!(
        parts(&log),
        [
            ("extractor", "items.create"),
            ("handler", "items.create"),
            ("nested", "nested"),
            ("handler after await", "items.create"),
            ("body poll", "items.create"),
            ("body poll", "items.create"),
            ("body poll", "items.create"),
            ("body poll", "items.create"),
            ("body poll", "items.create"),
            ("body drop", "items.create"),
        ]
    );
}

#[test]
fn the_handlers_own_route_wins_inside_a_differently_mapped_request() {
    static GATEWAY: Route = hand_written("gateway");
    let layer = RouteLayer::new().route("POST", "/items/{id}", &GATEWAY);
    let (log, status, _) = send(app(layer), Method::POST, "/items/7");
    assert_eq!(status, 200);
    let log = parts(&log);
    assert_eq!(
        log[..4],
        [
            ("extractor", "gateway"),
            ("handler", "items.create"),
            ("nested", "nested"),
            ("handler after await", "items.create"),
        ]
    );
    assert!(
        log[4..].iter().all(|(_, seen)| *seen == "gateway"),
        "{log:?}"
    );
}

#[test]
fn unmarked_handlers_run_under_their_unmatched_route_or_their_mapping() {
    let (log, status, body) = send(app(RouteLayer::new()), Method::GET, "/health");
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(
        parts(&log),
        [
            ("extractor", "GET /health (no feature)"),
            ("handler", "GET /health (no feature)"),
        ]
    );
    let unmatched = featgen::axum::unmatched("GET", Some("/health"));
    assert_eq!((unmatched.method, unmatched.path), ("GET", "/health"));
    assert_eq!(unmatched.feature.name, "");

    let layer = RouteLayer::new().route("GET", "/health", &HEALTH);
    let (log, ..) = send(app(layer), Method::GET, "/health");
    assert_eq!(
        parts(&log),
        [("extractor", "health"), ("handler", "health")]
    );
}

#[test]
fn head_runs_under_the_get_route_and_unknown_paths_under_the_fallback_route() {
    let (log, status, _) = send(app(RouteLayer::new()), Method::HEAD, "/items");
    assert_eq!(status, 200);
    assert_eq!(
        parts(&log),
        [("extractor", "items.list"), ("handler", "items.list")]
    );

    let (log, status, _) = send(app(RouteLayer::new()), Method::GET, "/nowhere/at/all");
    assert_eq!(status, 404);
    assert_eq!(
        parts(&log),
        [
            ("extractor", "GET (fallback) (no feature)"),
            ("handler", "GET (fallback) (no feature)"),
        ]
    );
}

#[test]
fn without_the_layer_only_the_handler_body_has_a_route() {
    let router = Router::new().route("/items/{id}", post(create_item));
    let (log, ..) = send(router, Method::POST, "/items/7");
    let log = parts(&log);
    // `send` polls under HEALTH: that is what runs outside the handler without the layer.
    assert_eq!(log[0], ("extractor", "health"));
    assert_eq!(log[1], ("handler", "items.create"));
    assert!(
        log[4..].iter().all(|(_, seen)| *seen == "health"),
        "{log:?}"
    );
}
