use featgen::{route, task};

#[route(GET, "/users/@me")]
fn me() {}

#[task(endpoint = "sweep")]
fn sweep() {}

fn main() {
    // Still callable: the function is emitted despite the error.
    me();
    sweep();
}
