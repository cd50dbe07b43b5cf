//! Completed calls in the profiles: the `requests/count` sample type. Marked sync and async
//! functions, requests through the axum layer and the actix middleware around marked handlers
//! (counted once, not twice), nested and recursive calls of one route, and calls that do not
//! complete (a panic, a future dropped before `Ready`) or complete before the profiler starts.
#![cfg(all(feature = "profiler", target_os = "linux"))]

#[path = "fixtures/profiler/support.rs"]
mod support;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use featgen::{route, task};
use featgen_features::Feature;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use support::*;
use tower::ServiceExt;

#[route(GET, "/requests/sync", feature = Messaging)]
fn sync_call() -> u64 {
    std::hint::black_box(1)
}

/// Recursive: each outermost call is one call, its inner calls run under its route already.
#[route(GET, "/requests/recursive", feature = Messaging)]
fn recursive(depth: u32) -> u32 {
    if depth == 0 {
        0
    } else {
        recursive(depth - 1) + 1
    }
}

#[route(GET, "/requests/panics", feature = Messaging)]
fn panics() {
    panic!("a call that unwinds does not complete");
}

#[task(feature = Messaging)]
async fn async_call() -> u64 {
    std::future::ready(2).await
}

/// Pending on its first poll: dropped after it, it never completes.
#[task(feature = Messaging)]
async fn abandoned() {
    let mut first = true;
    std::future::poll_fn(|_| {
        if std::mem::take(&mut first) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}

#[route(POST, "/requests/axum", feature = Messaging)]
async fn axum_handler() -> &'static str {
    "ok"
}

#[route(GET, "/requests/actix", feature = Messaging)]
async fn actix_handler() -> &'static str {
    "ok"
}

/// Polls `future` to completion on this thread.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[test]
fn marked_calls_are_counted_once_each() {
    let _serial = exclusive();
    // Before the profiler starts: in no interval.
    sync_call();
    block_on(async_call());
    let dir = tempfile::tempdir().unwrap();
    // Short intervals: the calls spread over several profiles and are still all counted.
    let profiler = featgen::profiler::Profiler::builder()
        .interval(std::time::Duration::from_millis(100))
        .local_dir(dir.path())
        .start()
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..2_500 {
                    sync_call();
                }
                for _ in 0..1_000 {
                    block_on(async_call());
                }
                for _ in 0..10 {
                    assert_eq!(recursive(5), 5);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(std::panic::catch_unwind(panics).is_err());
    {
        let mut future = Box::pin(abandoned());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }
    // A call nested in its own route is part of the outer call, with `enter` as with the macro.
    for _ in 0..3 {
        let _outer = featgen::enter(sync_call_route());
        sync_call();
    }
    let stats = profiler.stop();
    assert_eq!(stats.sinks[0].profiles_dropped.total(), 0, "{stats:#?}");

    let expected: BTreeMap<String, i64> = [
        ("sync_call", 10_000 + 3),
        ("async_call", 4_000),
        ("recursive", 40),
    ]
    .into_iter()
    .map(|(endpoint, calls)| (endpoint.to_owned(), calls))
    .collect();
    assert_eq!(requests_by_endpoint(&read_profiles(dir.path())), expected);
}

/// `sync_call`'s route, as the macro made it.
fn sync_call_route() -> &'static featgen::Route {
    featgen::routes()
        .iter()
        .find(|route| route.endpoint == "sync_call")
        .unwrap()
}

#[test]
fn a_request_through_the_axum_layer_is_one_call() {
    let _serial = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let profiler = profiler_until_stop(dir.path());
    let app = Router::new()
        .route("/requests/axum", axum::routing::post(axum_handler))
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .layer(featgen::axum::RouteLayer::new());
    for _ in 0..25 {
        let request = Request::post("/requests/axum").body(Body::empty()).unwrap();
        let response = block_on(app.clone().oneshot(request)).unwrap();
        assert_eq!(response.status(), 200);
    }
    // The marked handler alone (no layer) counts its own calls.
    for _ in 0..5 {
        block_on(axum_handler());
    }
    for _ in 0..2 {
        let request = Request::get("/missing").body(Body::empty()).unwrap();
        let response = block_on(app.clone().oneshot(request)).unwrap();
        assert_eq!(response.status(), 404);
    }
    profiler.stop();
    // Unmatched requests are calls of their unmatched route.
    assert_eq!(
        requests_by_endpoint(&read_profiles(dir.path())),
        BTreeMap::from([
            ("GET (fallback)".to_owned(), 2),
            ("axum_handler".to_owned(), 30)
        ])
    );
}

#[test]
fn a_request_through_the_actix_middleware_is_one_call() {
    let _serial = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let profiler = profiler_until_stop(dir.path());
    actix_web::rt::System::new().block_on(async {
        let app = actix_web::test::init_service(
            actix_web::App::new()
                .route("/requests/actix", actix_web::web::get().to(actix_handler))
                .wrap(featgen::actix::RouteMiddleware::new()),
        )
        .await;
        for uri in ["/requests/actix"; 7].into_iter().chain(["/nowhere"; 3]) {
            let request = actix_web::test::TestRequest::get().uri(uri).to_request();
            actix_web::test::call_service(&app, request).await;
        }
    });
    profiler.stop();
    // The middleware wraps the whole app: unmatched requests are calls of their unmatched route.
    assert_eq!(
        requests_by_endpoint(&read_profiles(dir.path())),
        BTreeMap::from([
            ("GET (fallback)".to_owned(), 3),
            ("actix_handler".to_owned(), 7)
        ])
    );
}
