//! `featgen::axum::serve`: the connection's own work for a request (here: hyper dropping the
//! response's data after writing it to the socket, outside every poll of the body) runs under
//! that request's route, switched as the next request on the same connection is routed; the
//! route is restored after every poll of the connection; shutdown closes idle connections and
//! ends the server.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::get;
use featgen::route;
use featgen_features::Feature;
use std::cell::RefCell;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

thread_local! {
    /// Where each response's data was dropped: the endpoint current then (`none` outside
    /// routes). Per thread: each test runs its server and client on its own thread.
    static DROPPED_UNDER: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

fn dropped_under() -> Vec<&'static str> {
    DROPPED_UNDER.with(|dropped| dropped.take())
}

/// Response data that records the current route when hyper drops it.
struct Recorded(&'static [u8]);

impl AsRef<[u8]> for Recorded {
    fn as_ref(&self) -> &[u8] {
        self.0
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        let seen = featgen::current().map_or("none", |route| route.endpoint);
        DROPPED_UNDER.with(|dropped| dropped.borrow_mut().push(seen));
    }
}

/// A body of `text` (large enough that hyper queues it rather than copying it into its buffer).
fn recorded(text: &'static [u8]) -> Body {
    Body::from(Bytes::from_owner(Recorded(text)))
}

static PROFILE: [u8; 16384] = [b'p'; 16384];
static HISTORY: [u8; 16384] = [b'h'; 16384];

#[route(GET, "/users/@me", feature = Profiles, endpoint = "serve.me")]
async fn me() -> Body {
    recorded(&PROFILE)
}

#[route(GET, "/history", feature = MessageHistory, endpoint = "serve.history")]
async fn history() -> Body {
    recorded(&HISTORY)
}

/// Sends a GET for `path` on `connection` and reads the response's body.
async fn get_body(connection: &mut BufReader<TcpStream>, path: &str) -> Vec<u8> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    connection
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .unwrap();
    let mut line = String::new();
    let mut length = None;
    loop {
        line.clear();
        connection.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = Some(value.trim().parse().unwrap());
        }
    }
    let mut body = vec![0; length.expect("a content-length")];
    connection.read_exact(&mut body).await.unwrap();
    body
}

// One thread: the client runs between the polls of the connection, on the same thread, so what
// it sees as current is what each poll of the connection left behind.
#[tokio::test(flavor = "current_thread")]
async fn the_connections_work_runs_under_the_route_of_the_request_it_serves() {
    let app = Router::new()
        .route("/users/@me", get(me))
        .route("/history", get(history))
        .layer(featgen::axum::RouteLayer::new());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(featgen::axum::serve(listener, app, async {
        stopped.await.ok();
    }));

    let mut connection = BufReader::new(TcpStream::connect(addr).await.unwrap());
    for path in ["/users/@me", "/history", "/history", "/users/@me"] {
        let body = get_body(&mut connection, path).await;
        assert_eq!(body.len(), 16384);
        assert!(featgen::current().is_none(), "restored after every poll");
    }
    // Keep-alive: one connection served the four requests, each response's data dropped by
    // hyper (after its write) under that request's route, even right after a request of
    // another route on the same connection.
    assert_eq!(
        dropped_under(),
        ["serve.me", "serve.history", "serve.history", "serve.me"]
    );
    // Each request is one call of its route, however many polls its connection took.
    for endpoint in ["serve.me", "serve.history"] {
        let route = featgen::routes()
            .iter()
            .find(|route| route.endpoint == endpoint)
            .unwrap();
        assert_eq!(format!("{:?}", route.calls), "Calls(2)", "{endpoint}");
    }

    // Shutdown closes the idle keep-alive connection, and then `serve` returns.
    stop.send(()).unwrap();
    let mut rest = Vec::new();
    connection.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    server.await.unwrap().unwrap();
    assert!(featgen::current().is_none());
}

/// The same data dropped by `axum::serve`'s connection is outside every route: what `serve`
/// adds over the layer alone.
#[tokio::test(flavor = "current_thread")]
async fn without_serve_the_connections_work_has_no_route() {
    #[route(GET, "/plain", feature = Profiles, endpoint = "serve.plain")]
    async fn plain() -> Body {
        recorded(&PROFILE)
    }
    let app = Router::new()
        .route("/plain", get(plain))
        .layer(featgen::axum::RouteLayer::new());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut connection = BufReader::new(TcpStream::connect(addr).await.unwrap());
    assert_eq!(get_body(&mut connection, "/plain").await.len(), 16384);
    assert_eq!(dropped_under(), ["none"]);
}

/// A streamed response body (no exact length, so the layer wraps it): one frame of `text`,
/// recording the route current during each of its polls.
struct SeenBody {
    text: Option<&'static [u8]>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>,
}

impl http_body::Body for SeenBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let seen = featgen::current().map_or("none", |route| route.endpoint);
        self.seen.lock().unwrap().push(seen);
        std::task::Poll::Ready(
            self.text
                .take()
                .map(|text| Ok(http_body::Frame::data(Bytes::from_owner(Recorded(text))))),
        )
    }
}

/// HTTP/2 with prior knowledge: two requests at once on one connection, each streamed body
/// polled under its own route (in the stream's task, which the layer covers), and the
/// connection's own work (hyper dropping each response's data after framing and writing it)
/// under no route, since that connection serves both.
#[tokio::test(flavor = "current_thread")]
async fn http2_requests_run_under_their_routes_and_their_connection_under_none() {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>;

    #[route(GET, "/h2/profile", feature = Profiles, endpoint = "serve.h2.profile")]
    async fn profile(axum::Extension(seen): axum::Extension<Seen>) -> Body {
        Body::new(SeenBody {
            text: Some(&PROFILE),
            seen,
        })
    }
    #[route(GET, "/h2/history", feature = MessageHistory, endpoint = "serve.h2.history")]
    async fn history(axum::Extension(seen): axum::Extension<Seen>) -> Body {
        Body::new(SeenBody {
            text: Some(&HISTORY),
            seen,
        })
    }
    let seen = Seen::default();
    let app = Router::new()
        .route("/h2/profile", get(profile))
        .route("/h2/history", get(history))
        .layer(featgen::axum::RouteLayer::new())
        .layer(axum::Extension(seen.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(featgen::axum::serve(listener, app, async {
        stopped.await.ok();
    }));

    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let client = tokio::spawn(connection);
    let get = |path: &str| {
        let mut sender = sender.clone();
        let request = axum::http::Request::get(format!("http://{addr}{path}"))
            .body(Body::empty())
            .unwrap();
        async move {
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.version(), axum::http::Version::HTTP_2);
            axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
                .await
                .unwrap()
        }
    };
    let (profile_body, history_body) = tokio::join!(get("/h2/profile"), get("/h2/history"));
    assert_eq!(profile_body, PROFILE[..]);
    assert_eq!(history_body, HISTORY[..]);
    assert!(featgen::current().is_none(), "restored after every poll");

    let mut seen = seen.lock().unwrap().clone();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, ["serve.h2.history", "serve.h2.profile"]);
    assert_eq!(dropped_under(), ["none", "none"]);
    for endpoint in ["serve.h2.profile", "serve.h2.history"] {
        let route = featgen::routes()
            .iter()
            .find(|route| route.endpoint == endpoint)
            .unwrap();
        assert_eq!(format!("{:?}", route.calls), "Calls(1)", "{endpoint}");
    }

    drop(sender);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    client.await.unwrap().unwrap();
}
