//! `routes()` lists the routes of every linked crate, including functions nobody calls.

use featgen::{RouteKind, route, routes};
use featgen_features::Feature;

#[route(GET, "/here", feature = Messaging, endpoint = "here")]
fn here() {}

#[test]
fn routes_of_other_crates_are_listed() {
    here();
    let elsewhere = featgen_test_routes_elsewhere::get().expect("a route while it runs");
    assert_eq!(elsewhere.endpoint, "elsewhere.get");
    assert_eq!(elsewhere.module, "featgen_test_routes_elsewhere");
    assert_eq!(elsewhere.feature.name, Feature::Profiles.name());

    let find = |endpoint: &str| routes().iter().find(|route| route.endpoint == endpoint);
    assert!(find("here").is_some());
    assert_eq!(find("elsewhere.get"), Some(&elsewhere));
    let never_called = find("elsewhere.never_called").expect("uncalled task listed");
    assert_eq!(never_called.kind, RouteKind::Task);
    assert_eq!(never_called.feature.name, Feature::TypingIndicator.name());
}
