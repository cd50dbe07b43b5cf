//! A router built elsewhere and nested under /admin.
use axum::routing::{self, MethodFilter};
use axum::Router;

use crate::handlers::Chat;

pub fn router() -> Router {
    Router::new()
        .route("/stats", routing::get(stats))
        .route("/chat", routing::on(MethodFilter::PATCH, Chat::update))
        .route("/proxy", routing::get(other_crate::proxy))
}

async fn stats() -> &'static str {
    "0"
}
