//! The fixture of the official protocol test suites, on 127.0.0.1:3000, with
//! `pingInterval` 300 ms, `pingTimeout` 200 ms and `maxPayload` 1000000:
//!
//! - `/engine.io/`: a bare Engine.IO echo server (every message sent back unchanged, text
//!   or binary);
//! - `/socket.io/`: a Socket.IO server (`connectTimeout` 1000 ms) with namespaces `/` and
//!   `/custom`. On connect to either it emits `auth` with the handshake's auth payload; on
//!   `/`, `message` is answered by `message-back` with the same arguments and
//!   `message-with-ack` is acknowledged with the same arguments (binary stays binary).
//!
//! Run with `cargo run --release --example conformance`.

use std::time::Duration;

use engineio::{CloseReason, Cors, EngineIo, EngineSocket, Message, SocketHandler};
use http::Request;
use hyper::body::Incoming;
use socketio::{Event, Socket, SocketIo};
use tower::{Service, ServiceExt};

struct Echo(EngineSocket);

impl SocketHandler for Echo {
    fn on_message(&mut self, message: Message) {
        let _ = self.0.try_send(message);
    }

    fn on_close(&mut self, _reason: CloseReason) {}
}

fn send_auth(socket: &Socket) {
    let _ = socket.emit("auth", socket.handshake().auth());
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

    let io = SocketIo::builder()
        .engine(|engine| {
            engine
                .ping_interval(Duration::from_millis(300))
                .ping_timeout(Duration::from_millis(200))
                .max_payload(1_000_000)
                .cors(Cors::any())
        })
        .connect_timeout(Duration::from_millis(1000))
        .build()?;
    io.on_connection(|socket: Socket| async move {
        send_auth(&socket);
        socket.on("message", |socket: Socket, event: Event| async move {
            let _ = socket.emit_raw("message-back", event.raw_args());
        });
        socket.on(
            "message-with-ack",
            |_socket: Socket, event: Event| async move {
                let _ = event.ack_raw(event.raw_args());
            },
        );
    });
    io.of("/custom")
        .on_connection(|socket: Socket| async move { send_auth(&socket) });

    // One listener for both: requests under /engine.io/ go to the bare engine.
    let service = tower::service_fn({
        let (engine, io) = (engine.clone(), io.clone());
        move |request: Request<Incoming>| {
            let (engine, io) = (engine.clone(), io.clone());
            async move {
                if request.uri().path().starts_with("/engine.io/") {
                    engine.oneshot(request).await
                } else {
                    let mut io = io;
                    io.call(request).await
                }
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    tracing::info!("Engine.IO at /engine.io/ and Socket.IO at /socket.io/ on 127.0.0.1:3000");
    engineio::serve(listener, service)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            io.close(Duration::from_secs(5)).await;
            engine.close(Duration::from_secs(5)).await;
        })
        .await?;
    Ok(())
}
