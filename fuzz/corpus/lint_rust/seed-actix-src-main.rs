//! Fixture: actix-web registrations and endpoint attributes.
mod api;

use actix_web::{App, HttpServer, web};

fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/channels/{id}")
            .route(web::get().to(api::channel))
            .route(web::delete().to(api::delete_channel)),
    )
    .route("/messages", web::post().to(api::send))
    .route("/ping", web::get().to(|| async { "pong" }))
    .default_service(web::to(api::fallback));
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    HttpServer::new(|| {
        App::new()
            .configure(config)
            .service(api::history)
            .service(api::search)
            .service(web::scope("/v2").route("/typing", web::route().method(Method::PUT).to(api::typing)))
    })
    .bind(("127.0.0.1", 8080))?
    .run()
    .await
}
