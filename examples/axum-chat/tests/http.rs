//! Serves the chat API on 127.0.0.1 (an ephemeral port), calls every endpoint over HTTP, and checks
//! the route that `featgen::current()` returned inside each handler.

use axum_chat::{Chat, ServedBy, app, expire_typing};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Sends one HTTP/1.1 request and returns the status code and the JSON body.
fn request(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|body| body.to_string()).unwrap_or_default();
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("a complete response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// The `served_by` of a reply, which must be present.
fn served_by(reply: &Value) -> ServedBy {
    serde_json::from_value(reply["served_by"].clone()).expect("the handler saw a route")
}

/// The route record of `endpoint`, as the handler should have seen it.
fn expected(endpoint: &str) -> ServedBy {
    let listed: Vec<_> = featgen::routes()
        .iter()
        .filter(|route| route.endpoint == endpoint)
        .collect();
    // Once, although `#[debug_handler]` copies the handlers it checks (and so their records).
    let [route] = listed[..] else {
        panic!("{endpoint} is listed once in routes(): {listed:?}");
    };
    ServedBy {
        endpoint: route.endpoint.to_owned(),
        feature: route.feature.name.to_owned(),
        method: route.method.to_owned(),
        path: route.path.to_owned(),
    }
}

#[test]
fn every_handler_runs_under_its_own_route() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let chat = Arc::new(Chat::default());
    let app = app(chat.clone());
    runtime.spawn(async move { axum::serve(listener, app).await });

    let hello = json!({ "content": "hello" });
    let (status, sent) = request(addr, "POST", "/channels/7/messages", Some(hello));
    assert_eq!(status, 200);
    assert_eq!(sent["data"]["content"], "hello");
    let sent_by = served_by(&sent);
    assert_eq!(sent_by, expected("messages.send"));
    assert_eq!(
        (
            sent_by.method.as_str(),
            sent_by.path.as_str(),
            sent_by.feature.as_str()
        ),
        ("POST", "/channels/{channel_id}/messages", "messaging")
    );

    let id = sent["data"]["id"].as_u64().unwrap();
    let edit = json!({ "content": "hello, edited" });
    let (status, edited) = request(
        addr,
        "PATCH",
        &format!("/channels/7/messages/{id}"),
        Some(edit),
    );
    assert_eq!(status, 200);
    assert_eq!(edited["data"]["edited"], true);
    let edited_by = served_by(&edited);
    assert_eq!(edited_by, expected("messages.edit"));
    assert_eq!(edited_by.feature, "message-edit");

    let (status, listed) = request(addr, "GET", "/channels/7/messages", None);
    assert_eq!(status, 200);
    assert_eq!(listed["data"][0]["content"], "hello, edited");
    let listed_by = served_by(&listed);
    assert_eq!(listed_by, expected("messages.list"));
    assert_eq!(listed_by.feature, "message-history");

    let (status, typing) = request(addr, "POST", "/channels/7/typing", None);
    assert_eq!(status, 200);
    let typing_by = served_by(&typing);
    assert_eq!(typing_by, expected("start_typing"));
    assert_eq!(typing_by.feature, "typing-indicator");

    let voice = json!({ "content": "in voice" });
    let (status, voiced) = request(addr, "POST", "/voice/9/messages", Some(voice));
    assert_eq!(status, 200);
    let voiced_by = served_by(&voiced);
    assert_eq!(voiced_by, expected("voice.messages.send"));
    assert_eq!(voiced_by.feature, "text-in-voice");

    let (status, me) = request(addr, "GET", "/users/@me", None);
    assert_eq!(status, 200);
    let me_by = served_by(&me);
    assert_eq!(me_by, expected("users.me"));
    assert_eq!(me_by.feature, "profiles");

    let sweep = runtime.block_on(expire_typing(chat, Duration::ZERO));
    assert_eq!(sweep.expired, 1);
    let sweep_by = sweep.served_by.expect("the task saw its route");
    assert_eq!(sweep_by, expected("typing.expire"));
    assert_eq!((sweep_by.method.as_str(), sweep_by.path.as_str()), ("", ""));
}
