//! Plain handler functions, registered by another crate.
pub async fn list() -> &'static str {
    "[]"
}

pub async fn create() -> &'static str {
    "{}"
}
