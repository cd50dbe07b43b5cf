//! Handlers: some with a feature, some without.
pub mod messages;

use axum::routing::MethodRouter;
use featgen::route;

#[route(PUT, "/typing", feature = TypingIndicator)]
pub async fn typing() {}

#[route(GET, "/messages/{id}", feature = Feature::MessageEdit)]
pub async fn edit() {}

pub async fn remove() {}

pub struct Chat;

impl Chat {
    pub async fn update() {}

    pub fn methods() -> MethodRouter {
        MethodRouter::new().get(Self::update)
    }
}

pub fn voice_router() -> axum::Router {
    let join = axum::routing::post(voice::join);
    axum::Router::new().route("/voice", join)
}

mod voice {
    #[featgen::route(POST, "/voice", feature = crate::features::Feature::TextInVoice)]
    pub async fn join() {}
}

/// An impl block without any framework vocabulary: parsed again when a router names its method.
pub struct Typing;

impl Typing {
    pub async fn stop() {}
}
