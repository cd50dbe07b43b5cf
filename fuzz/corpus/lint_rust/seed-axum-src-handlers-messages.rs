//! Message handlers.
use featgen::route;

#[route(GET, "/messages", feature = Messaging)]
pub async fn list() {}

pub async fn send() {}
