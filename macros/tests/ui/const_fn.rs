use featgen::route;

#[route(GET, "/version", feature = Messaging)]
const fn version() -> u32 {
    1
}

fn main() {
    let _ = version();
}
