use featgen::{route, task};

#[route(GET, "/users/@me", feature = Profiles, team = "identity")]
fn me() {}

#[task(GET, "/sweep", feature = Messaging)]
fn sweep() {}

fn main() {
    me();
    sweep();
}
