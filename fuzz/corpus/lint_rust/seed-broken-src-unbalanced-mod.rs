//! Unbalanced delimiters, in a file about routes.
pub fn router() -> axum::Router {
    axum::Router::new().route("/x", get(x)
}
