//! Fixture: #[route]/#[task] arguments checked against the registry.
use featgen::{route, task};

#[route(GET, "/a")]
async fn no_feature() {}

#[route(GET, "/b", feature = Mesaging)]
async fn misspelt() {}

#[route(GET, "/c", feature = crate::features::Feature::Billing)]
async fn not_in_registry() {}

#[route(GET, "/d", feature = "messaging")]
async fn string_feature() {}

#[route(POST, "/gifts", feature = Feature::GiftLinks)]
async fn old_gift() {}

#[task]
async fn bare_task() {}

#[task(feature = TEXT_IN_VOICE)]
async fn python_style() {}

#[route(GET, "/ok", feature = Messaging, endpoint = "ok")]
async fn fine() {}
