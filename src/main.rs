//! The default binary. For now it serves an Engine.IO echo server on 127.0.0.1:3000 at
//! `/engine.io/` (the fixture of the official protocol test suite); the standalone
//! Socket.IO server, with its demo page and publish API, replaces it.

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
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let engine = EngineIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .cors(Cors::any())
        .build(Echo)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    tracing::info!("Engine.IO echo server on http://127.0.0.1:3000/engine.io/");
    let shutdown_engine = engine.clone();
    engineio::serve(listener, engine)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            shutdown_engine.close(Duration::from_secs(5)).await;
        })
        .await?;
    Ok(())
}
