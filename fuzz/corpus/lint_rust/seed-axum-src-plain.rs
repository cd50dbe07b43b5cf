//! A handler in a file that never mentions the web framework (parsed only because a router
//! names it).
pub async fn plain() -> &'static str {
    "plain"
}
