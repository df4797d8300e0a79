//! The server every benchmark drives (`shared/bench/CONTRACT.md`), written against the
//! public API as a user would.
//!
//! Listens on 127.0.0.1:$PORT (default 3000) with $WORKERS worker threads (default: one
//! per core); Socket.IO at `/socket.io/` over WebSocket and long-polling; `pingInterval`
//! 25 s, `pingTimeout` 20 s, `maxPayload` 1 000 000; no logging. On `/`:
//!
//! | client emits | server does |
//! |---|---|
//! | `echo` (any args, ack) | acks with the same args (binary stays binary) |
//! | `broadcast` (payload, ack) | emits `msg` with the payload to every socket of `/`, then acks |
//! | `join` (room, ack) | joins `room`, then acks |
//! | `to_room` (room, payload, ack) | emits `msg` with the payload to `room`, then acks |
//!
//! Run with `cargo run --release --example bench_server`.

use std::time::Duration;

use socketio::{Event, Socket, SocketIo};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Ok(workers) = std::env::var("WORKERS") {
        runtime.worker_threads(workers.parse()?);
    }
    runtime.enable_all().build()?.block_on(serve(port))
}

async fn serve(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let io = SocketIo::builder()
        .engine(|engine| {
            engine
                .ping_interval(Duration::from_secs(25))
                .ping_timeout(Duration::from_secs(20))
                .max_payload(1_000_000)
                .max_sessions(1_000_000)
        })
        .build()?;

    io.on_connection(|socket: Socket| async move {
        socket.on("echo", |_socket: Socket, event: Event| async move {
            let _ = event.ack_raw(event.raw_args());
        });
        socket.on("broadcast", |socket: Socket, event: Event| async move {
            let _ = socket.namespace().emit_raw("msg", event.raw_args());
            let _ = event.ack(&());
        });
        socket.on("join", |socket: Socket, event: Event| async move {
            if let Ok(room) = event.arg::<String>(0) {
                socket.join(room);
            }
            let _ = event.ack(&());
        });
        socket.on("to_room", |socket: Socket, event: Event| async move {
            if let Ok(room) = event.arg::<String>(0) {
                let _ = socket
                    .namespace()
                    .to(room)
                    .emit_raw("msg", &event.raw_args().skip(1));
            }
            let _ = event.ack(&());
        });
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let shutdown = io.clone();
    socketio::serve(listener, io)
        .with_graceful_shutdown(async move {
            stop_signal().await;
            shutdown.close(Duration::from_millis(500)).await;
        })
        .drain_timeout(Duration::from_millis(500))
        .await?;
    Ok(())
}

/// SIGTERM (how benchmarks stop servers) or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler can be installed");
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
