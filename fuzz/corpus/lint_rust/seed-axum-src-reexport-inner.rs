//! The definition behind the re-export.
pub async fn hidden() {}

pub async fn unrelated() {}
