//! Cost of the current route on the hot path, in one run: per sync call and per async poll of a
//! marked function against the plain one, `tracing::Instrument` (registry subscriber) and a
//! `tokio::task_local!` scope.
//!
//! `cargo bench -p featgen --bench route`; the figures are in the README ("Benchmark").

use criterion::{Criterion, criterion_group, criterion_main};
use featgen::{route, task};
use featgen_features::Feature;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tracing::Instrument;

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

/// Polls `future` once per iteration; it never completes, so each iteration is one poll.
fn bench_polls(c: &mut Criterion, name: &str, future: impl Future<Output = ()>) {
    let mut future = Box::pin(future);
    let mut cx = Context::from_waker(Waker::noop());
    c.bench_function(name, |b| b.iter(|| future.as_mut().poll(&mut cx)));
}

fn route_overhead(c: &mut Criterion) {
    // The registry subscriber, with spans enabled, as a service using tracing would have it.
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
    let span = tracing::info_span!("bench");
    assert!(!span.is_disabled(), "the span must reach the registry");

    c.bench_function("sync call/plain", |b| b.iter(|| plain(black_box(1))));
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

criterion_group!(benches, route_overhead);
criterion_main!(benches);
