//! Cost of the current route on the hot path, in one run: per sync call and per async poll of a
//! marked function against the plain one, `tracing::Instrument` (registry subscriber) and a
//! `tokio::task_local!` scope; per completed call (sync, and async polled once to `Ready`), which
//! for a marked function includes counting the call, against the plain one with and without a
//! relaxed `AtomicU64::fetch_add` and a `task_local!` scope; and per request through an axum
//! router with and without `featgen::axum::RouteLayer`.
//!
//! Times are the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time: on a
//! shared machine the thread is descheduled for other processes, which wall time would count.
//!
//! `cargo bench -p featgen --bench route`; the figures are in the README ("Benchmark"). The
//! layer's cost per request and `#[task]`'s per async poll are also measured paired ("axum
//! request/RouteLayer added", "async poll/#[task] added"): blocks with and without alternate,
//! timed with the thread's CPU clock, so that neither the machine's load drifting between the
//! two criterion rows nor preemption (which stops the thread's CPU clock) enters the
//! difference. The per-poll cost is then split the same way into its two parts: the route
//! switch (`featgen::scope` around the plain future) and the nesting of the body's `async`
//! block in the function's own future, without a route.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::post;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, criterion_group};
use featgen::{route, task};
use featgen_features::Feature;
use http_body::Body as _;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tower::ServiceExt;
use tracing::Instrument;

/// Criterion's measurement by the calling thread's CPU time, reported in the same units as wall
/// time.
struct ThreadCpu;

/// The CPU time the calling thread has used.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes a timespec into `now`.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "CLOCK_THREAD_CPUTIME_ID is available on Linux");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL_TIME: WallTime = WallTime;
        WALL_TIME.formatter()
    }
}

tokio::task_local! {
    /// The task-local alternative to featgen's thread-local route.
    static TASK_ROUTE: &'static str;
}

/// The work of one call: small, so the overhead around it dominates.
#[inline(never)]
fn plain(x: u64) -> u64 {
    black_box(x).wrapping_mul(3)
}

#[route(GET, "/bench", feature = Messaging)]
#[inline(never)]
fn marked(x: u64) -> u64 {
    black_box(x).wrapping_mul(3)
}

/// A future that is never ready: every poll of the benchmarked futures does one poll of it.
struct Spin;

impl Future for Spin {
    type Output = ();

    #[inline(never)]
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        black_box(Poll::Pending)
    }
}

async fn plain_async() {
    Spin.await
}

#[task(feature = Messaging)]
async fn marked_async() {
    Spin.await
}

/// What `#[task]` makes of `marked_async` without the route: an `async fn` awaiting its body
/// as an inner `async` block, so the nesting alone is measured.
#[allow(
    clippy::redundant_async_block,
    reason = "the block is the nesting being measured"
)]
async fn nested_async() {
    async move { Spin.await }.await
}

/// A hand-written route for `featgen::scope`, so that the route switch alone is measured.
static SCOPE_ROUTE: featgen::Route = featgen::Route {
    kind: featgen::RouteKind::Task,
    method: "",
    path: "",
    endpoint: "bench_scope",
    feature: featgen::feature_info!(Feature::Messaging),
    module: module_path!(),
    file: file!(),
    line: line!(),
    calls: featgen::Calls::new(),
};

/// Polls `future` once per iteration; it never completes, so each iteration is one poll.
fn bench_polls(c: &mut Criterion<ThreadCpu>, name: &str, future: impl Future<Output = ()>) {
    let mut future = Box::pin(future);
    let mut cx = Context::from_waker(Waker::noop());
    c.bench_function(name, |b| b.iter(|| future.as_mut().poll(&mut cx)));
}

fn route_overhead(c: &mut Criterion<ThreadCpu>) {
    // The registry subscriber, with spans enabled, as a service using tracing would have it.
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
    let span = tracing::info_span!("bench");
    assert!(!span.is_disabled(), "the span must reach the registry");

    c.bench_function("sync call/plain", |b| b.iter(|| plain(black_box(1))));
    c.bench_function("sync call/plain + relaxed fetch_add", |b| {
        b.iter(|| plain_counted(black_box(1)))
    });
    c.bench_function("sync call/#[route]", |b| b.iter(|| marked(black_box(1))));
    c.bench_function("sync call/tracing span in_scope", |b| {
        b.iter(|| span.in_scope(|| plain(black_box(1))))
    });
    c.bench_function("sync call/task_local sync_scope", |b| {
        b.iter(|| TASK_ROUTE.sync_scope("bench", || plain(black_box(1))))
    });

    bench_polls(c, "async poll/plain", plain_async());
    bench_polls(c, "async poll/#[task]", marked_async());
    bench_polls(
        c,
        "async poll/tracing Instrument",
        plain_async().instrument(span.clone()),
    );
    bench_polls(
        c,
        "async poll/task_local scope",
        TASK_ROUTE.scope("bench", plain_async()),
    );
}

#[route(POST, "/channels/{channel_id}/messages", feature = Messaging)]
async fn send_message() -> &'static str {
    "sent"
}

/// One request through `app` with `tower::ServiceExt::oneshot`, polled to completion, and its
/// response body read frame by frame (the handler never waits, so nothing is ever pending).
fn request_through(app: &Router) -> usize {
    let request = Request::post("/channels/7/messages")
        .body(Body::empty())
        .unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let mut response = std::pin::pin!(app.clone().oneshot(request));
    let Poll::Ready(Ok(response)) = response.as_mut().poll(&mut cx) else {
        unreachable!("the handler is ready at once")
    };
    let mut body = std::pin::pin!(response.into_body());
    let mut bytes = 0;
    while let Poll::Ready(Some(Ok(frame))) = body.as_mut().poll_frame(&mut cx) {
        bytes += frame.data_ref().map_or(0, |data| data.len());
    }
    bytes
}

/// The benchmarked router without and with the layer, each as axum serves it: `with_state(())`
/// turns every handler into its service once, where a `Router` called as it is would do that
/// (and apply the layer to it) again for every request.
fn routers() -> (Router, Router) {
    let routes = Router::new().route("/channels/{channel_id}/messages", post(send_message));
    let layered = routes
        .clone()
        .layer(featgen::axum::RouteLayer::new())
        .with_state(());
    (routes.with_state(()), layered)
}

/// The peer: the benchmarked router with a layer that does nothing, which costs what axum's
/// `Router::layer` adds to any layer (the route's service boxed and cloned once more per request,
/// its future boxed).
fn identity_router() -> Router {
    Router::new()
        .route("/channels/{channel_id}/messages", post(send_message))
        .layer(tower::layer::util::Identity::new())
        .with_state(())
}

fn request_overhead(c: &mut Criterion<ThreadCpu>) {
    let (plain, layered) = routers();
    assert_eq!(request_through(&plain), 4);
    assert_eq!(request_through(&layered), 4);
    c.bench_function("axum request/#[route] handler", |b| {
        b.iter(|| request_through(black_box(&plain)))
    });
    c.bench_function("axum request/#[route] handler + RouteLayer", |b| {
        b.iter(|| request_through(black_box(&layered)))
    });
    let identity = identity_router();
    assert_eq!(request_through(&identity), 4);
    c.bench_function("axum request/#[route] handler + Identity layer", |b| {
        b.iter(|| request_through(black_box(&identity)))
    });
}

/// The peer of featgen's per-route counter: one relaxed increment of a static counter.
static PLAIN_CALLS: AtomicU64 = AtomicU64::new(0);

/// The plain function, counting its call in [`PLAIN_CALLS`].
#[inline(never)]
fn plain_counted(x: u64) -> u64 {
    PLAIN_CALLS.fetch_add(1, Ordering::Relaxed);
    black_box(x).wrapping_mul(3)
}

async fn plain_ready(x: u64) -> u64 {
    black_box(x).wrapping_mul(3)
}

async fn plain_ready_counted(x: u64) -> u64 {
    PLAIN_CALLS.fetch_add(1, Ordering::Relaxed);
    black_box(x).wrapping_mul(3)
}

#[task(feature = Messaging)]
async fn marked_ready(x: u64) -> u64 {
    black_box(x).wrapping_mul(3)
}

/// Polls `future` once, to `Ready`: one completed async call.
#[inline(always)]
fn complete<F: Future<Output = u64>>(future: F) -> u64 {
    let mut cx = Context::from_waker(Waker::noop());
    match std::pin::pin!(future).poll(&mut cx) {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("the future is ready at once"),
    }
}

fn call_overhead(c: &mut Criterion<ThreadCpu>) {
    c.bench_function("completed async call/plain", |b| {
        b.iter(|| complete(plain_ready(black_box(1))))
    });
    c.bench_function("completed async call/plain + relaxed fetch_add", |b| {
        b.iter(|| complete(plain_ready_counted(black_box(1))))
    });
    c.bench_function("completed async call/#[task]", |b| {
        b.iter(|| complete(marked_ready(black_box(1))))
    });
    c.bench_function("completed async call/task_local scope", |b| {
        b.iter(|| complete(TASK_ROUTE.scope("bench", plain_ready(black_box(1)))))
    });
}

/// Thread CPU time (ns) per request of `count` requests through `app`.
fn cpu_per_request(app: &Router, count: u32) -> f64 {
    let start = thread_cpu();
    for _ in 0..count {
        black_box(request_through(black_box(app)));
    }
    (thread_cpu() - start).as_nanos() as f64 / f64::from(count)
}

/// Paired blocks: `rounds` rounds of one block timed by `without` and one by `with` (each
/// returns the thread CPU time per operation of its block), in alternating order, so that a
/// machine whose speed drifts moves both alike. Returns the median and the mean with its
/// standard error of the per-round differences, and the mean of each side.
fn paired(
    rounds: usize,
    mut without: impl FnMut() -> f64,
    mut with: impl FnMut() -> f64,
) -> (f64, f64, f64, f64, f64) {
    let mut differences = Vec::with_capacity(rounds);
    let (mut without_sum, mut with_sum) = (0.0, 0.0);
    for round in 0..rounds {
        let (plain, marked) = if round % 2 == 0 {
            let plain = without();
            (plain, with())
        } else {
            let marked = with();
            (without(), marked)
        };
        without_sum += plain;
        with_sum += marked;
        differences.push(marked - plain);
    }
    let n = rounds as f64;
    let mean = differences.iter().sum::<f64>() / n;
    let variance = differences.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0);
    differences.sort_by(f64::total_cmp);
    (
        differences[rounds / 2],
        mean,
        (variance / n).sqrt(),
        without_sum / n,
        with_sum / n,
    )
}

/// What the layer adds per request, paired: 2000 rounds of a block of 64 requests without and
/// one with the layer, each timed with the thread's CPU clock.
fn paired_layer_overhead() {
    const ROUNDS: usize = 2000;
    const BLOCK: u32 = 64;
    let (plain, layered) = routers();
    // Warm-up: code, caches and the allocator's free lists.
    cpu_per_request(&plain, 10 * BLOCK);
    cpu_per_request(&layered, 10 * BLOCK);
    let (median, mean, error, without, with) = paired(
        ROUNDS,
        || cpu_per_request(&plain, BLOCK),
        || cpu_per_request(&layered, BLOCK),
    );
    println!(
        "axum request/RouteLayer added (paired, thread CPU): median {median:.0} ns, mean \
         {mean:.0} ns ± {error:.0} ns (standard error) per request; {without:.0} ns without the \
         layer, {with:.0} ns with it ({ROUNDS} rounds of {BLOCK} requests each)"
    );
    // What the layer costs beyond axum's cost of any layer: paired against the do-nothing one.
    let identity = identity_router();
    cpu_per_request(&identity, 10 * BLOCK);
    let (median, mean, error, without, with) = paired(
        ROUNDS,
        || cpu_per_request(&identity, BLOCK),
        || cpu_per_request(&layered, BLOCK),
    );
    println!(
        "axum request/RouteLayer added over a do-nothing layer (paired, thread CPU): median \
         {median:.0} ns, mean {mean:.0} ns ± {error:.0} ns (standard error) per request; \
         {without:.0} ns with the do-nothing layer, {with:.0} ns with RouteLayer ({ROUNDS} rounds \
         of {BLOCK} requests each)"
    );
}

/// Thread CPU time (ns) per poll of `count` polls of `future` (never ready).
fn cpu_per_poll(future: &mut Pin<Box<impl Future<Output = ()>>>, count: u32) -> f64 {
    let mut cx = Context::from_waker(Waker::noop());
    let start = thread_cpu();
    for _ in 0..count {
        let _ = black_box(future.as_mut().poll(&mut cx));
    }
    (thread_cpu() - start).as_nanos() as f64 / f64::from(count)
}

/// What `#[task]` adds per async poll, paired like the layer's row: 2000 rounds of a block of
/// 4096 polls of the plain and of the marked never-ready future. Criterion's rows measure the
/// two one after the other, seconds apart, which on a shared machine moves them by more than
/// the 1 ns being compared.
///
/// Then its two parts, paired the same way against the plain poll: the route switch alone
/// (`featgen::scope` around the plain future) and the nesting alone (an `async fn` awaiting its
/// body as an inner `async` block, as `#[task]` expands, with no route).
fn paired_poll_overhead() {
    let marked = paired_polls(marked_async());
    println!("async poll/#[task] added (paired, thread CPU): {marked}");
    let scope = paired_polls(featgen::scope(&SCOPE_ROUTE, plain_async()));
    println!("  of which featgen::scope, the route switch alone: {scope}");
    let nesting = paired_polls(nested_async());
    println!("  of which the nested async block, no route: {nesting}");
}

/// The paired difference per poll between `plain_async` and `other` (never ready), described.
fn paired_polls(other: impl Future<Output = ()>) -> String {
    const ROUNDS: usize = 2000;
    const BLOCK: u32 = 4096;
    let (mut plain, mut other) = (Box::pin(plain_async()), Box::pin(other));
    cpu_per_poll(&mut plain, 10 * BLOCK);
    cpu_per_poll(&mut other, 10 * BLOCK);
    let (median, mean, error, without, with) = paired(
        ROUNDS,
        || cpu_per_poll(&mut plain, BLOCK),
        || cpu_per_poll(&mut other, BLOCK),
    );
    format!(
        "median {median:.2} ns, mean {mean:.2} ns ± {error:.2} ns (standard error) per poll; \
         {without:.2} ns plain, {with:.2} ns with it ({ROUNDS} rounds of {BLOCK} polls each)"
    )
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = route_overhead, call_overhead, request_overhead
}

fn main() {
    benches();
    // The same filter as criterion's: the first argument that is not an option.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let selected = |name: &str| filter.as_deref().is_none_or(|filter| name.contains(filter));
    if selected("async poll/#[task] added") {
        paired_poll_overhead();
    }
    if selected("axum request/RouteLayer added") {
        paired_layer_overhead();
    }
    Criterion::default()
        .with_measurement(ThreadCpu)
        .configure_from_args()
        .final_summary();
}
