//! Serves the chat API on `CHAT_ADDR` (default 127.0.0.1:3000) and runs the typing-indicator
//! sweep every second.

use axum_chat::{Chat, app, expire_typing};
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("CHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    for route in featgen::routes() {
        println!(
            "{:<8} {:<48} {:<22} feature={}",
            route.method, route.path, route.endpoint, route.feature.name
        );
    }
    println!("listening on http://{}", listener.local_addr()?);

    let chat = Arc::new(Chat::default());
    let sweeper = chat.clone();
    tokio::spawn(async move {
        let mut every_second = tokio::time::interval(Duration::from_secs(1));
        loop {
            every_second.tick().await;
            expire_typing(sweeper.clone(), Duration::from_secs(10)).await;
        }
    });
    axum::serve(listener, app(chat)).await
}
