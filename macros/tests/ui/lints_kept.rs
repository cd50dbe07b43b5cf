//! The function is re-emitted with its own spans, so lints still point at it.
#![deny(dead_code)]

use featgen::{route, task};
use featgen_features::Feature;

#[route(GET, "/unused", feature = Messaging)]
fn never_called() {}

#[task(feature = Messaging)]
async fn never_awaited() {}

fn main() {}
