//! Fixture: one file does not parse; the rest is still linted.
mod bad;

use axum::routing::get;

pub fn router() -> axum::Router {
    axum::Router::new().route("/still-linted", get(unassigned))
}

async fn unassigned() {}
