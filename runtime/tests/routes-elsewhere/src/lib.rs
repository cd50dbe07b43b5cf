//! Routes declared in a library crate, to check that `featgen::routes()` of a binary lists the
//! routes of every crate it links, not only its own.

use featgen::{route, task};
use featgen_features::Feature;

/// An endpoint of this crate; returns the route current while it runs.
#[route(GET, "/elsewhere/{id}", feature = Profiles, endpoint = "elsewhere.get")]
pub fn get() -> Option<&'static featgen::Route> {
    featgen::current()
}

/// A task of this crate that nothing calls: it must be listed all the same.
#[task(feature = TypingIndicator, endpoint = "elsewhere.never_called")]
pub async fn never_called() {}
