//! The fixture of the official protocol test suites, on 127.0.0.1:3000:
//! a bare Engine.IO echo server at `/engine.io/` (every message sent back unchanged, text
//! or binary) with `pingInterval` 300 ms, `pingTimeout` 200 ms and `maxPayload` 1000000.
//!
//! Run with `cargo run --release --example conformance`.

use std::time::Duration;

use engineio::{CloseReason, Cors, EngineIo, EngineSocket, Message, SocketHandler};

struct Echo(EngineSocket);

impl SocketHandler for Echo {
    fn on_message(&mut self, message: Message) {
        let _ = self.0.try_send(message);
    }

    fn on_close(&mut self, _reason: CloseReason) {}
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let engine = EngineIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .cors(Cors::any())
        .build(Echo)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    tracing::info!("Engine.IO echo at http://127.0.0.1:3000/engine.io/");
    let shutdown_engine = engine.clone();
    engineio::serve(listener, engine)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            shutdown_engine.close(Duration::from_secs(5)).await;
        })
        .await?;
    Ok(())
}
