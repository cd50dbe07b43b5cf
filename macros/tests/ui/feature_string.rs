use featgen::task;

#[task(feature = "messaging")]
fn sweep() {}

fn main() {
    sweep();
}
