//! Serves the chat API on `CHAT_ADDR` (default 127.0.0.1:3000), runs the typing-indicator sweep
//! every second, and profiles itself: labeled CPU profiles go to `featgen-profiles/` every 10 s,
//! or wherever the `FEATGEN_PROFILER_*` environment variables say (Pyroscope, another directory,
//! another interval). Ctrl-C stops the server and flushes the last profile.
//!
//! Every request runs whole under its route: `featgen::axum::RouteLayer` covers the request's
//! future and response body, and `featgen::axum::serve` the connection's own work for it (parsing
//! the request, encoding and writing the response). What the load benchmark compares against:
//! `CHAT_ROUTE_LAYER=layer` serves with `axum::serve` (the layer only), `CHAT_ROUTE_LAYER=off`
//! leaves the layer out too, so that only handler bodies are attributed.

use axum_chat::{Chat, app, expire_typing, routes};
use std::sync::Arc;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Started before the runtime, whose worker threads then register for their own CPU timers
    // as they start (threads that run a route would also register on their first route).
    #[cfg(target_os = "linux")]
    let _profiler = featgen::profiler::Profiler::builder()
        .service_name("axum-chat")
        .from_env()?
        .start()?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    #[cfg(target_os = "linux")]
    runtime.on_thread_start(featgen::profiler::register_current_thread);
    runtime.build()?.block_on(serve())?;
    Ok(())
}

async fn serve() -> std::io::Result<()> {
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
    let shutdown = async {
        // If the handler cannot be installed, serve until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    match std::env::var("CHAT_ROUTE_LAYER").as_deref() {
        Ok("off") => {
            axum::serve(listener, routes(chat))
                .with_graceful_shutdown(shutdown)
                .await
        }
        Ok("layer") => {
            axum::serve(listener, app(chat))
                .with_graceful_shutdown(shutdown)
                .await
        }
        _ => featgen::axum::serve(listener, app(chat), shutdown).await,
    }
}
