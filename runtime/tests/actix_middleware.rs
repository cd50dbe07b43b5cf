//! `featgen::actix::RouteMiddleware`: the route of the request's resource in the extractor, the
//! handler (its own `#[route]` winning), every poll of a streamed body and its drop; unmatched
//! and mapped routes; and the background-task pattern with `in_current_route`.

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{App, FromRequest, HttpRequest, HttpResponse, test, web};
use featgen::actix::RouteMiddleware;
use featgen::{FeatureInfo, Route, RouteKind, route};
use featgen_features::Feature;
use std::cell::RefCell;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

thread_local! {
    /// What each part of the current test's request saw (actix runs a test on one thread).
    static LOG: RefCell<Vec<(&'static str, String)>> = const { RefCell::new(Vec::new()) };
}

/// Records the current endpoint as seen by `part` (`none` outside routes).
fn record(part: &'static str) {
    let seen = featgen::current().map_or("none", |route| route.endpoint);
    LOG.with(|log| log.borrow_mut().push((part, seen.to_owned())));
}

fn take_log() -> Vec<(&'static str, String)> {
    LOG.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

/// An extractor that records the route it runs under.
struct Probe;

impl FromRequest for Probe {
    type Error = actix_web::Error;
    type Future = Ready<Result<Probe, actix_web::Error>>;

    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        record("extractor");
        ready(Ok(Probe))
    }
}

/// A streamed body: two chunks, pending once before each, recording every poll and its drop.
struct Streamed {
    chunks_left: u8,
    pending_next: bool,
}

impl MessageBody for Streamed {
    type Error = actix_web::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, actix_web::Error>>> {
        record("body poll");
        if self.chunks_left == 0 {
            return Poll::Ready(None);
        }
        if std::mem::take(&mut self.pending_next) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.chunks_left -= 1;
        self.pending_next = true;
        Poll::Ready(Some(Ok(Bytes::from_static(b"chunk "))))
    }
}

impl Drop for Streamed {
    fn drop(&mut self) {
        record("body drop");
    }
}

#[route(GET, "/nested-only", feature = Attachments, endpoint = "nested")]
fn nested() {
    record("nested");
}

#[route(POST, "/items/{id}", feature = Messaging, endpoint = "items.create")]
async fn create_item(_: Probe) -> HttpResponse {
    record("handler");
    nested();
    // Work spawned for the request carries its route only when wrapped.
    let (carried, lost) = (
        actix_web::rt::spawn(featgen::in_current_route(async {
            record("spawned, wrapped")
        })),
        actix_web::rt::spawn(async { record("spawned, not wrapped") }),
    );
    carried.await.unwrap();
    lost.await.unwrap();
    record("handler after await");
    HttpResponse::Ok().body(Streamed {
        chunks_left: 2,
        pending_next: true,
    })
}

async fn health(_: Probe) -> &'static str {
    record("handler");
    "ok"
}

static HEALTH: Route = Route {
    kind: RouteKind::Endpoint,
    method: "GET",
    path: "/health",
    endpoint: "health",
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
};

/// Sends `request` through an app wrapped in `middleware` and reads the body.
async fn send(middleware: RouteMiddleware, request: test::TestRequest) -> (u16, Bytes) {
    let app = test::init_service(
        App::new()
            .route("/items/{id}", web::post().to(create_item))
            .route("/health", web::get().to(health))
            .default_service(web::to(|_: Probe| async {
                record("handler");
                HttpResponse::NotFound().finish()
            }))
            .wrap(middleware),
    )
    .await;
    let response = test::call_service(&app, request.to_request()).await;
    let status = response.status().as_u16();
    let body = test::read_body(response).await;
    assert!(featgen::current().is_none());
    (status, body)
}

fn parts<'a>(log: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    log.iter()
        .map(|(part, seen)| (*part, seen.as_str()))
        .collect()
}

#[actix_web::test]
async fn every_part_of_a_request_runs_under_its_route() {
    let request = test::TestRequest::post().uri("/items/7");
    let (status, body) = send(RouteMiddleware::new(), request).await;
    assert_eq!((status, &body[..]), (200, &b"chunk chunk "[..]));
    assert_eq!(
        parts(&take_log()),
        [
            ("extractor", "items.create"),
            ("handler", "items.create"),
            ("nested", "nested"),
            ("spawned, wrapped", "items.create"),
            ("spawned, not wrapped", "none"),
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

#[actix_web::test]
async fn unmarked_and_unknown_requests_run_under_their_unmatched_or_mapped_route() {
    let request = test::TestRequest::get().uri("/health");
    send(RouteMiddleware::new(), request).await;
    assert_eq!(
        parts(&take_log()),
        [("extractor", "GET /health"), ("handler", "GET /health")]
    );
    assert_eq!(
        featgen::actix::unmatched("GET", Some("/health"))
            .feature
            .name,
        ""
    );

    let mapped = RouteMiddleware::new().route("GET", "/health", &HEALTH);
    send(mapped, test::TestRequest::get().uri("/health")).await;
    assert_eq!(
        parts(&take_log()),
        [("extractor", "health"), ("handler", "health")]
    );

    let (status, _) = send(RouteMiddleware::new(), test::TestRequest::get().uri("/x/y")).await;
    assert_eq!(status, 404);
    assert_eq!(
        parts(&take_log()),
        [
            ("extractor", "GET (fallback)"),
            ("handler", "GET (fallback)")
        ]
    );
}

/// The route is restored between polls: another task on the same thread sees its own.
#[actix_web::test]
async fn the_route_is_restored_after_every_poll() {
    let seen_between = Rc::new(RefCell::new(Vec::new()));
    let watcher = {
        let seen_between = seen_between.clone();
        actix_web::rt::spawn(async move {
            for _ in 0..20 {
                seen_between
                    .borrow_mut()
                    .push(featgen::current().map(|route| route.endpoint));
                actix_web::rt::task::yield_now().await;
            }
        })
    };
    send(
        RouteMiddleware::new(),
        test::TestRequest::post().uri("/items/7"),
    )
    .await;
    watcher.await.unwrap();
    take_log();
    assert!(seen_between.borrow().iter().all(Option::is_none));
}
