//! Fixture: axum routers. Registrations here, handlers in other modules and files.
mod admin;
mod handlers;
mod plain;
mod reexport;

use axum::Router;
use axum::routing::{get, post};
use handlers::messages::{self, send as send_message};

fn app() -> Router {
    Router::new()
        .route("/messages", get(messages::list).post(send_message))
        .route("/typing", axum::routing::put(handlers::typing))
        .route("/health", get(|| async { "ok" }))
        .route("/messages/{id}", get(handlers::edit).delete(handlers::remove))
        .route("/export", post(handlers::remove))
        .nest("/admin", admin::router())
        .nest("/v1", Router::new().route("/ping", get(|| async { "pong" })))
        .merge(handlers::voice_router())
        .route("/plain", get(plain::plain))
        .route("/hidden", get(reexport::hidden))
        .route("/typing/stop", post(handlers::Typing::stop))
}

fn main() {
    let _ = app();
}
