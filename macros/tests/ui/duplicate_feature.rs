use featgen::route;

#[route(GET, "/users/@me", feature = Profiles, feature = Messaging)]
fn me() {}

#[route(GET, "/users/{id}", feature = Profiles, endpoint = "a", endpoint = "b")]
fn user() {}

fn main() {
    me();
    user();
}
