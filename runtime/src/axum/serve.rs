//! [`serve`]: axum's `serve`, with each HTTP/1.1 connection's own work (reading and parsing
//! requests, encoding and writing responses) under the route of the request it is serving.
//!
//! [`RouteLayer`](super::RouteLayer) covers the polls of a request's future and of its response
//! body. hyper does the rest in the connection's task, in the same polls but outside those: it
//! reads the socket, parses the request head, encodes the response head and writes the frames the
//! body produced. [`serve`] wraps each connection's task in [`Served`], which makes current, for
//! every poll, the route of the last request the layer routed on that connection (kept in a
//! per-connection [`ConnectionRoute`]); the layer switches it as it routes a request, mid-poll, so
//! that the rest of that poll (encoding and writing the response) is already under the new route.

use crate::Route;
use crate::context::{NO_ROUTE, current_or_no_route, replace, set};
use ::axum::Router;
use ::axum::body::Body;
use ::axum::http::{Request, Response, Version};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

thread_local! {
    /// The connection whose task is being polled on this thread ([`Served`]), null outside.
    static SERVING: Cell<*const ConnectionRoute> = const { Cell::new(ptr::null()) };
}

/// Serves `router` on `listener` over HTTP/1.1 and HTTP/2 like `axum::serve(listener, router)
/// .with_graceful_shutdown(shutdown)`, with each connection's own work (reading the socket,
/// parsing requests, encoding responses, writing them) under the route of the request it is
/// serving; install [`RouteLayer`](super::RouteLayer) on `router`, which tells each connection
/// its request's route as it routes it.
///
/// A connection runs under no route until its first request is routed, then under the route of
/// the last request routed on it: on a keep-alive connection, reading and parsing the next
/// request's head is under the route of the one before, until the layer routes it.
///
/// When `shutdown` completes, it stops accepting, lets each connection finish the request it is
/// serving, and returns once all are closed. Pass `std::future::pending()` to serve until the
/// process ends. Errors accepting a connection are not returned: a failed connection is skipped,
/// and on other errors (too many open files) accepting pauses for a second, as axum does.
///
/// HTTP/2 (with prior knowledge, as `axum::serve` serves it) is served too, but its connection's
/// work runs under no route: one connection carries many requests at once, so its framing,
/// header compression and socket reads and writes cannot be given to one of them. hyper runs
/// each stream's request in a task of its own, which the layer covers (a buffered response
/// body's hand-over excepted: see [`RouteLayer`](super::RouteLayer)).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // As in axum's `serve`: connections watch `shutting_down` (closed when the signal fires), and
    // each holds a receiver of `open`, whose sender's `closed()` is then the wait for all of them.
    let (shutting_down, signal_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(signal_rx);
    });
    let (open, open_rx) = watch::channel(());
    // As axum's `serve` does: every handler made into its service (and wrapped by the layers)
    // once, not again for every request.
    let router: Router = router.with_state(());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutting_down.closed() => break,
        };
        let stream = match stream {
            Ok((stream, _)) => stream,
            Err(err) if is_connection_error(&err) => continue,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let slot = Arc::new(ConnectionRoute::default());
        let service = TowerToHyperService::new(ServeRequest {
            router: router.clone(),
            slot: slot.clone(),
        });
        let shutting_down = shutting_down.clone();
        let open_rx = open_rx.clone();
        tokio::spawn(Served::new(slot, async move {
            // HTTP/1.1, and HTTP/2 with prior knowledge (told apart by the connection preface).
            let builder = Builder::new(TokioExecutor::new());
            let mut connection =
                pin!(builder.serve_connection_with_upgrades(TokioIo::new(stream), service));
            let mut signal = pin!(shutting_down.closed());
            let mut signalled = false;
            loop {
                tokio::select! {
                    // Connection errors (a client that went away) end that connection only.
                    _ = connection.as_mut() => break,
                    // Once only: the signal's future must not be polled after it completed.
                    () = &mut signal, if !signalled => {
                        signalled = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(open_rx);
        }));
    }
    drop(open_rx);
    drop(listener);
    open.closed().await;
    Ok(())
}

/// Errors of one incoming connection (its client gave up), after which accepting goes on at once.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The route of the request a connection is serving: none until the layer has routed its first
/// request, then the last one routed, until the next replaces it.
#[derive(Debug, Default)]
struct ConnectionRoute {
    /// Null, or a pointer obtained from a `&'static Route`.
    route: AtomicPtr<Route>,
    /// What was current when the connection's running poll started (null for none): the route
    /// a request routed in that poll is a call within, rather than the previous request's.
    outside: AtomicPtr<Route>,
}

/// `route` as stored in a [`ConnectionRoute`]'s pointers: null for [`NO_ROUTE`].
fn stored(route: &'static Route) -> *mut Route {
    if ptr::eq(route, &NO_ROUTE) {
        ptr::null_mut()
    } else {
        ptr::from_ref(route).cast_mut()
    }
}

/// A [`ConnectionRoute`]'s pointer as a route, [`NO_ROUTE`] for null.
fn loaded(pointer: &AtomicPtr<Route>) -> &'static Route {
    // SAFETY: the pointers only ever hold null or a pointer from a `&'static Route` (`stored`).
    unsafe { pointer.load(Ordering::Relaxed).as_ref() }.unwrap_or(&NO_ROUTE)
}

impl ConnectionRoute {
    /// The route to make current, [`NO_ROUTE`] for none.
    fn get(&self) -> &'static Route {
        loaded(&self.route)
    }
}

/// What [`serve`] adds to each request's extensions: the connection's route, for the layer.
#[derive(Clone, Debug)]
struct ServedBy(Arc<ConnectionRoute>);

/// Called by the layer as it routes `extensions`' request to `route`: when the request came
/// through [`serve`] and is routed within its connection's poll, makes `route` the connection's,
/// and current for the rest of the poll if the connection's route is what is current now (that
/// is, nothing between the connection and the layer has set one of its own).
///
/// Returns the route the request's call is within: what is current, or, when the connection's
/// route is (the previous request's), what was current outside the connection's poll.
#[inline]
pub(super) fn request_routed(
    extensions: &::axum::http::Extensions,
    route: &'static Route,
) -> &'static Route {
    let current = current_or_no_route();
    let serving = SERVING.with(Cell::get);
    if serving.is_null() {
        return current;
    }
    let Some(ServedBy(slot)) = extensions.get::<ServedBy>() else {
        return current;
    };
    if !ptr::eq(Arc::as_ptr(slot), serving) {
        return current;
    }
    let before = slot.get();
    slot.route.store(stored(route), Ordering::Relaxed);
    if !ptr::eq(current, before) {
        return current;
    }
    // No guard: `Served` restores the route from before the poll when the poll returns.
    replace(route);
    loaded(&slot.outside)
}

/// The service each connection runs: `router`, with [`ServedBy`] in each request.
#[derive(Clone, Debug)]
struct ServeRequest {
    router: Router,
    slot: Arc<ConnectionRoute>,
}

impl tower_service::Service<Request<Incoming>> for ServeRequest {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = <Router as tower_service::Service<Request<Body>>>::Future;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        tower_service::Service::<Request<Body>>::poll_ready(&mut self.router, cx)
    }

    #[inline]
    fn call(&mut self, mut request: Request<Incoming>) -> Self::Future {
        // HTTP/1: one request at a time, so the connection's work is that request's. HTTP/2
        // multiplexes many: its connection stays under no route rather than the last one's. (hyper
        // polls each HTTP/2 request in a task of its own, where the layer finds no connection
        // being polled and would leave the slot alone anyway; this says so and spares the clone.)
        if request.version() < Version::HTTP_2 {
            request.extensions_mut().insert(ServedBy(self.slot.clone()));
        }
        self.router.call(request.map(Body::new))
    }
}

/// A connection's task, run with its [`ConnectionRoute`] current during every poll and its drop,
/// the previous route restored after each.
struct Served<F> {
    slot: Arc<ConnectionRoute>,
    /// `None` only while being dropped.
    connection: Option<Pin<Box<F>>>,
}

impl<F> Served<F> {
    fn new(slot: Arc<ConnectionRoute>, connection: F) -> Served<F> {
        Served {
            slot,
            connection: Some(Box::pin(connection)),
        }
    }
}

/// Marks a connection as the one being polled on this thread until dropped (also on unwinding).
struct ServingGuard {
    outer: *const ConnectionRoute,
}

impl ServingGuard {
    fn enter(slot: &Arc<ConnectionRoute>) -> ServingGuard {
        ServingGuard {
            outer: SERVING.with(|serving| serving.replace(Arc::as_ptr(slot))),
        }
    }
}

impl Drop for ServingGuard {
    fn drop(&mut self) {
        SERVING.with(|serving| serving.set(self.outer));
    }
}

impl<F: Future> Future for Served<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.slot
            .outside
            .store(stored(current_or_no_route()), Ordering::Relaxed);
        // `set`, not `enter`: a poll of the connection is not a call of its route (the layer
        // counts each request once).
        let _route = set(this.slot.get());
        // Dropped before the route guard (in reverse order), so that it runs under the route.
        let _serving = ServingGuard::enter(&this.slot);
        this.connection
            .as_mut()
            .expect("polled after drop")
            .as_mut()
            .poll(cx)
    }
}

impl<F> Drop for Served<F> {
    fn drop(&mut self) {
        let _route = set(self.slot.get());
        drop(self.connection.take());
    }
}
