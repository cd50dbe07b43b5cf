//! Handlers of the actix fixture.
use actix_web::{get, post, HttpResponse};
use featgen::route;

#[route(GET, "/channels/{id}", feature = Messaging)]
pub async fn channel() -> HttpResponse {
    HttpResponse::Ok().finish()
}

pub async fn delete_channel() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[route(POST, "/messages", feature = Messaging)]
pub async fn send() -> HttpResponse {
    HttpResponse::Ok().finish()
}

pub async fn fallback() -> HttpResponse {
    HttpResponse::NotFound().finish()
}

#[get("/history")]
pub async fn history() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[route(GET, "/search", feature = MessageEdit)]
#[post("/search")]
pub async fn search() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[actix_web::route("/typing", method = "PUT", method = "PATCH")]
pub async fn typing() -> HttpResponse {
    HttpResponse::Ok().finish()
}
