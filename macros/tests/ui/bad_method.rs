use featgen::route;

#[route(FETCH, "/a", feature = Messaging)]
fn unknown_method() {}

#[route(get, "/b", feature = Messaging)]
fn lower_case() {}

#[route("get", "/c", feature = Messaging)]
fn lower_case_string() {}

#[route("/d", feature = Messaging)]
fn missing_method() {}

fn main() {
    unknown_method();
    lower_case();
    lower_case_string();
    missing_method();
}
