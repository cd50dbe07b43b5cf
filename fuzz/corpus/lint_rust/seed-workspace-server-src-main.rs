//! Registers handlers defined in the `chat-api` crate of the same workspace.
use axum::Router;
use axum::routing::{get, post};
use chat_api::handlers;

fn main() {
    let _app: Router = Router::new()
        .route("/items", get(chat_api::handlers::list))
        .route("/items/new", post(handlers::create));
}
