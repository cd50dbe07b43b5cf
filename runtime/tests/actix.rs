//! actix-web handlers keep working when marked, in either order with actix's own route macros,
//! and run under their route.

use actix_web::{App, HttpResponse, Responder, get, test, web};
use featgen::{current, route};
use featgen_features::Feature;

/// The endpoint name of the current route, as the response body.
fn current_endpoint() -> String {
    current().map_or("none", |route| route.endpoint).to_owned()
}

#[route(GET, "/users/{id}", feature = Profiles)]
async fn user(id: web::Path<u64>) -> impl Responder {
    actix_web::rt::task::yield_now().await;
    HttpResponse::Ok().body(format!("{id}:{}", current_endpoint()))
}

#[get("/typing")]
#[route(POST, "/typing", feature = TypingIndicator)]
async fn typing() -> impl Responder {
    current_endpoint()
}

#[route(GET, "/messages", feature = Messaging)]
#[get("/messages")]
async fn messages() -> impl Responder {
    current_endpoint()
}

#[actix_web::test]
async fn handlers_run_under_their_route() {
    let app = test::init_service(
        App::new()
            .route("/users/{id}", web::get().to(user))
            .service(typing)
            .service(messages),
    )
    .await;
    for (uri, expected) in [
        ("/users/5", "5:user"),
        ("/typing", "typing"),
        ("/messages", "messages"),
    ] {
        let request = test::TestRequest::get().uri(uri).to_request();
        let body = test::call_and_read_body(&app, request).await;
        assert_eq!(body, expected.as_bytes(), "{uri}");
    }
    assert!(current().is_none());
}
