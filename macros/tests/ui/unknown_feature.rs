use featgen::{route, task};
use featgen_features::Feature;

#[route(GET, "/a", feature = Messagin)]
fn bare_name() {}

#[task(feature = Feature::Teleportation)]
fn full_path() {}

fn main() {
    bare_name();
    full_path();
}
