//! The current route at run time: nesting, panics, drops, interleaving tasks on current-thread and
//! multi-thread runtimes, propagation into spawned tasks, and the route list.

use featgen::{Route, RouteKind, current, route, routes, task};
use featgen_features::Feature;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tokio::sync::Barrier;

/// The endpoint name of the current route, for short assertions.
fn current_endpoint() -> Option<&'static str> {
    current().map(|route| route.endpoint)
}

#[route(GET, "/outer", feature = Messaging)]
fn outer() -> Vec<Option<&'static str>> {
    let mut seen = vec![current_endpoint()];
    seen.push(inner());
    seen.push(current_endpoint());
    seen
}

#[task(feature = TypingIndicator, endpoint = "inner.task")]
fn inner() -> Option<&'static str> {
    current_endpoint()
}

#[test]
fn sync_routes_nest_and_restore() {
    assert_eq!(current(), None);
    assert_eq!(outer(), [Some("outer"), Some("inner.task"), Some("outer")]);
    assert_eq!(current(), None);
}

#[test]
fn the_record_carries_the_attribute_and_the_generated_feature_metadata() {
    #[route(POST, "/channels/{channel_id}/messages", feature = Feature::Messaging)]
    fn create() -> &'static Route {
        current().unwrap()
    }
    let route = create();
    assert_eq!(route.kind, RouteKind::Endpoint);
    assert_eq!(route.method, "POST");
    assert_eq!(route.path, "/channels/{channel_id}/messages");
    assert_eq!(route.endpoint, "create");
    assert_eq!(route.feature.name, Feature::Messaging.name());
    assert_eq!(route.feature.id, Feature::Messaging.id());
    assert_eq!(route.feature.group, Feature::Messaging.group().name());
    assert_eq!(route.feature.team, Feature::Messaging.team().name());
    assert_eq!(route.feature.tier, Feature::Messaging.tier().name());
    assert_eq!(route.module, module_path!());
    assert_eq!(route.file, file!());
    assert!(route.line > 0);

    #[task(feature = Profiles)]
    fn sweep() -> &'static Route {
        current().unwrap()
    }
    let task = sweep();
    assert_eq!(
        (task.kind, task.method, task.path),
        (RouteKind::Task, "", "")
    );
    assert_eq!(task.feature.name, Feature::Profiles.name());
}

#[route(PUT, "/panics", feature = Messaging)]
fn panics() {
    panic!("handler failed");
}

#[test]
fn a_panic_restores_the_previous_route() {
    #[task(feature = Profiles)]
    fn calls_a_panicking_handler() -> Option<&'static str> {
        assert!(std::panic::catch_unwind(panics).is_err());
        current_endpoint()
    }
    assert_eq!(
        calls_a_panicking_handler(),
        Some("calls_a_panicking_handler")
    );
    assert_eq!(current(), None);
}

/// Returns `Pending` once (waking itself), then `Ready`: one `.await` point.
fn yield_once() -> impl Future<Output = ()> {
    let mut yielded = false;
    poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

/// Records the current route when dropped.
struct RecordOnDrop(Arc<std::sync::Mutex<Option<Option<&'static str>>>>);

impl Drop for RecordOnDrop {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(current_endpoint());
    }
}

#[task(feature = Messaging)]
async fn pending_forever(record: RecordOnDrop) {
    let _record = record;
    std::future::pending::<()>().await;
}

#[test]
fn a_dropped_future_restores_the_route_and_drops_its_state_under_it() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    {
        let mut future = pin!(pending_forever(RecordOnDrop(seen.clone())));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert_eq!(current(), None, "the route must not outlive the poll");
    }
    assert_eq!(*seen.lock().unwrap(), Some(Some("pending_forever")));
    assert_eq!(current(), None);
}

#[test]
fn a_future_that_panics_while_polled_restores_the_route() {
    #[task(feature = Messaging)]
    async fn fails() {
        yield_once().await;
        panic!("task failed");
    }
    let result = std::panic::catch_unwind(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(fails())
    });
    assert!(result.is_err());
    assert_eq!(current(), None);
}

#[test]
fn a_future_polled_inside_another_route_sees_its_own_and_restores_the_outer_one() {
    #[task(feature = Messaging)]
    async fn polled() -> Option<&'static str> {
        yield_once().await;
        current_endpoint()
    }
    #[route(GET, "/polls", feature = Profiles)]
    fn polls() -> (Option<&'static str>, Option<&'static str>) {
        let mut future = pin!(polled());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        let between = current_endpoint();
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(inside) => (between, inside),
            Poll::Pending => panic!("ready on the second poll"),
        }
    }
    assert_eq!(polls(), (Some("polls"), Some("polled")));
    assert_eq!(current(), None);
}

#[route(GET, "/a", feature = Messaging)]
async fn task_a(barrier: Arc<Barrier>) -> Vec<Option<&'static str>> {
    interleave(barrier).await
}

#[route(GET, "/b", feature = Profiles)]
async fn task_b(barrier: Arc<Barrier>) -> Vec<Option<&'static str>> {
    interleave(barrier).await
}

/// Suspends several times, meeting the other task at a barrier so that their polls alternate,
/// and records the route seen after every resumption.
async fn interleave(barrier: Arc<Barrier>) -> Vec<Option<&'static str>> {
    let mut seen = vec![current_endpoint()];
    for _ in 0..5 {
        barrier.wait().await;
        seen.push(current_endpoint());
        yield_once().await;
        seen.push(current_endpoint());
    }
    seen
}

/// Runs `task_a` and `task_b` concurrently on `runtime` and checks each saw only its own route.
fn check_interleaving(runtime: tokio::runtime::Runtime, spawn: bool) {
    runtime.block_on(async {
        let barrier = Arc::new(Barrier::new(2));
        let (a, b) = if spawn {
            let a = tokio::spawn(task_a(barrier.clone()));
            let b = tokio::spawn(task_b(barrier.clone()));
            (a.await.unwrap(), b.await.unwrap())
        } else {
            tokio::join!(task_a(barrier.clone()), task_b(barrier.clone()))
        };
        assert!(a.iter().all(|seen| *seen == Some("task_a")), "{a:?}");
        assert!(b.iter().all(|seen| *seen == Some("task_b")), "{b:?}");
        assert_eq!(current(), None, "the executor must not see a task's route");
    });
}

#[test]
fn interleaved_tasks_see_their_own_route_on_a_current_thread_runtime() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    };
    check_interleaving(runtime(), true);
    check_interleaving(runtime(), false);
}

#[test]
fn interleaved_tasks_see_their_own_route_on_a_multi_thread_runtime() {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
    };
    check_interleaving(runtime(), true);
    check_interleaving(runtime(), false);
}

#[test]
fn spawned_tasks_inherit_the_route_only_when_asked() {
    #[route(POST, "/spawn", feature = Messaging)]
    async fn spawner() -> (Option<&'static str>, Option<&'static str>) {
        let carried = tokio::spawn(featgen::in_current_route(async {
            yield_once().await;
            current_endpoint()
        }));
        let plain = tokio::spawn(async { current_endpoint() });
        (carried.await.unwrap(), plain.await.unwrap())
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(spawner()), (Some("spawner"), None));
}

static MANUAL: Route = Route {
    kind: RouteKind::Task,
    method: "",
    path: "",
    endpoint: "manual",
    feature: featgen::feature_info!(Feature::TextInVoice),
    module: module_path!(),
    file: file!(),
    line: line!(),
    calls: featgen::Calls::new(),
};

#[test]
fn code_without_the_attribute_can_use_scope_and_enter() {
    {
        let _guard = featgen::enter(&MANUAL);
        assert_eq!(current_endpoint(), Some("manual"));
        assert_eq!(inner(), Some("inner.task"));
        assert_eq!(current_endpoint(), Some("manual"));
    }
    assert_eq!(current(), None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let seen = runtime.block_on(featgen::scope(&MANUAL, async {
        yield_once().await;
        current_endpoint()
    }));
    assert_eq!(seen, Some("manual"));
    assert_eq!(MANUAL.feature.name, Feature::TextInVoice.name());
}

#[test]
fn routes_lists_every_marked_function_once() {
    let endpoints: Vec<&str> = routes().iter().map(|route| route.endpoint).collect();
    for endpoint in [
        "outer",
        "inner.task",
        "panics",
        "pending_forever",
        "task_a",
        "task_b",
    ] {
        let count = endpoints.iter().filter(|seen| **seen == endpoint).count();
        assert_eq!(count, 1, "{endpoint} in {endpoints:?}");
    }
    assert!(
        !endpoints.contains(&"manual"),
        "hand-written routes are not registered"
    );

    #[task(feature = Messaging)]
    fn listed() -> &'static Route {
        current().unwrap()
    }
    let route = listed();
    assert!(routes().contains(&route));
}
