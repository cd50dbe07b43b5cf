use featgen::route;

#[route(GET, "users/@me", feature = Profiles)]
fn relative() {}

#[route(GET, "/channels/{channel_id/messages", feature = Messaging)]
fn unbalanced() {}

#[route(GET, "/files/{*rest}/raw", feature = Messaging)]
fn wildcard_not_last() {}

#[route(GET, "/users/{}", feature = Profiles)]
fn unnamed() {}

fn main() {
    relative();
    unbalanced();
    wildcard_not_last();
    unnamed();
}
