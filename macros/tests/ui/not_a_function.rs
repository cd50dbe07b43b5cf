use featgen::route;

#[route(GET, "/a", feature = Messaging)]
struct Handler;

fn main() {
    let _ = Handler;
}
