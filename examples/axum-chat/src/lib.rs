//! A small chat API served with axum, every handler and the background task marked with its
//! feature: send (messaging), edit (message-edit) and load messages (message-history), typing
//! indicator, text-in-voice, profile.
//!
//! Each reply carries `served_by`, the route `featgen::current()` returned inside the handler, so
//! the HTTP test can check that every handler ran under its own route.

#![forbid(unsafe_code)]

use axum::extract::{Path, State};
use axum::routing::{get, patch, post};
use axum::{Json, Router, debug_handler};
use featgen::{route, task};
use featgen_features::Feature;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The route a handler or task saw as current while it ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedBy {
    /// `Route::endpoint`.
    pub endpoint: String,
    /// `Route::feature.name`.
    pub feature: String,
    /// `Route::method` (`""` for tasks).
    pub method: String,
    /// `Route::path` (`""` for tasks).
    pub path: String,
}

impl ServedBy {
    /// The current route, if any.
    fn current() -> Option<ServedBy> {
        featgen::current().map(|route| ServedBy {
            endpoint: route.endpoint.to_owned(),
            feature: route.feature.name.to_owned(),
            method: route.method.to_owned(),
            path: route.path.to_owned(),
        })
    }
}

/// Every reply: the payload and the route that produced it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply<T> {
    /// What the handler returns.
    pub data: T,
    /// `featgen::current()` as seen inside the handler.
    pub served_by: Option<ServedBy>,
}

impl<T> Reply<T> {
    /// Wraps `data` with the current route.
    fn new(data: T) -> Json<Reply<T>> {
        Json(Reply {
            data,
            served_by: ServedBy::current(),
        })
    }
}

/// A chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Unique across channels.
    pub id: u64,
    /// The text or voice channel it was sent to.
    pub channel_id: u64,
    /// The text.
    pub content: String,
    /// Whether it was edited after being sent.
    pub edited: bool,
}

/// The body of a send or edit request.
#[derive(Debug, Serialize, Deserialize)]
pub struct NewMessage {
    /// The text.
    pub content: String,
}

/// The service's in-memory state.
#[derive(Default)]
pub struct Chat {
    /// Messages by channel, oldest first.
    messages: Mutex<HashMap<u64, Vec<Message>>>,
    /// When someone last started typing, by channel.
    typing: Mutex<HashMap<u64, Instant>>,
}

/// Locks `mutex`, ignoring poisoning: a panicked handler leaves the maps consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Chat {
    /// Appends a message to `channel_id` and returns it.
    fn push(&self, channel_id: u64, content: String) -> Message {
        let mut messages = lock(&self.messages);
        let id = messages.values().map(Vec::len).sum::<usize>() as u64 + 1;
        let message = Message {
            id,
            channel_id,
            content,
            edited: false,
        };
        messages
            .entry(channel_id)
            .or_default()
            .push(message.clone());
        message
    }
}

/// The shared state handed to handlers.
pub type Shared = Arc<Chat>;

/// Sends a message to a text channel.
#[route(POST, "/channels/{channel_id}/messages", feature = Messaging, endpoint = "messages.send")]
async fn send_message(
    State(chat): State<Shared>,
    Path(channel_id): Path<u64>,
    Json(new): Json<NewMessage>,
) -> Json<Reply<Message>> {
    Reply::new(chat.push(channel_id, new.content))
}

/// Edits a message; `data` is null when there is no such message.
// `#[debug_handler]` outside `#[route]`: it sees the function as rewritten by `#[route]`.
#[debug_handler]
#[route(PATCH, "/channels/{channel_id}/messages/{message_id}", feature = MessageEdit, endpoint = "messages.edit")]
async fn edit_message(
    State(chat): State<Shared>,
    Path((channel_id, message_id)): Path<(u64, u64)>,
    Json(edit): Json<NewMessage>,
) -> Json<Reply<Option<Message>>> {
    let mut messages = lock(&chat.messages);
    let edited = messages
        .get_mut(&channel_id)
        .and_then(|channel| channel.iter_mut().find(|message| message.id == message_id))
        .map(|message| {
            message.content = edit.content;
            message.edited = true;
            message.clone()
        });
    Reply::new(edited)
}

/// Loads a channel's messages, oldest first.
// `#[route]` outside `#[debug_handler]`: the other order.
#[route(GET, "/channels/{channel_id}/messages", feature = MessageHistory, endpoint = "messages.list")]
#[debug_handler]
async fn load_messages(
    State(chat): State<Shared>,
    Path(channel_id): Path<u64>,
) -> Json<Reply<Vec<Message>>> {
    // Yield once, so the test also covers a handler that is polled more than once.
    tokio::task::yield_now().await;
    let messages = lock(&chat.messages).get(&channel_id).cloned();
    Reply::new(messages.unwrap_or_default())
}

/// Shows that the caller is typing in a channel.
#[route(POST, "/channels/{channel_id}/typing", feature = TypingIndicator)]
async fn start_typing(State(chat): State<Shared>, Path(channel_id): Path<u64>) -> Json<Reply<()>> {
    lock(&chat.typing).insert(channel_id, Instant::now());
    Reply::new(())
}

/// Sends a text message to a voice channel's chat.
#[route(POST, "/voice/{channel_id}/messages", feature = TextInVoice, endpoint = "voice.messages.send")]
async fn send_voice_text(
    State(chat): State<Shared>,
    Path(channel_id): Path<u64>,
    Json(new): Json<NewMessage>,
) -> Json<Reply<Message>> {
    Reply::new(chat.push(channel_id, new.content))
}

/// The caller's profile.
#[route(GET, "/users/@me", feature = Profiles, endpoint = "users.me")]
async fn me() -> Json<Reply<&'static str>> {
    Reply::new("you")
}

/// What one run of the background task did.
#[derive(Debug, Serialize, Deserialize)]
pub struct Sweep {
    /// Typing indicators removed.
    pub expired: usize,
    /// `featgen::current()` as seen inside the task.
    pub served_by: Option<ServedBy>,
}

/// Background task: forgets typing indicators older than `max_age`.
#[task(feature = TypingIndicator, endpoint = "typing.expire")]
pub async fn expire_typing(chat: Shared, max_age: Duration) -> Sweep {
    let mut typing = lock(&chat.typing);
    let before = typing.len();
    typing.retain(|_, started| started.elapsed() < max_age);
    Sweep {
        expired: before - typing.len(),
        served_by: ServedBy::current(),
    }
}

/// The HTTP API, every request run whole under its route by `featgen::axum::RouteLayer`: the
/// JSON extraction, the handler, the serialization and the writing of the response body.
pub fn app(chat: Shared) -> Router {
    routes(chat).layer(featgen::axum::RouteLayer::new())
}

/// The HTTP API without the layer: only the handlers' own bodies run under their routes (what
/// `#[route]` alone covers). The paths repeat those of the `#[route]` attributes, which the test
/// checks.
pub fn routes(chat: Shared) -> Router {
    Router::new()
        .route(
            "/channels/{channel_id}/messages",
            post(send_message).get(load_messages),
        )
        .route(
            "/channels/{channel_id}/messages/{message_id}",
            patch(edit_message),
        )
        .route("/channels/{channel_id}/typing", post(start_typing))
        .route("/voice/{channel_id}/messages", post(send_voice_text))
        .route("/users/@me", get(me))
        .with_state(chat)
}
