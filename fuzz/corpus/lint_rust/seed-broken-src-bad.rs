//! Does not parse, and declares a router: it must be reported, not skipped.
use axum::Router;

pub fn router() -> Router {
    let = Router::new();
}
