//! The bench contract server (`shared/bench/CONTRACT.md`) written with the `socketioxide`
//! crate, served by axum/hyper, so that benchmarks can compare it with ours.
//!
//! Env: `PORT` (default 3000), `WORKERS` (tokio worker threads; default one per core).
//! Listens on 127.0.0.1, Socket.IO at `/socket.io/`, websocket and polling, pingInterval
//! 25 s, pingTimeout 20 s, max payload 1 000 000, TCP_NODELAY, no logging, exits on SIGTERM.

use std::fmt;
use std::time::Duration;

use axum::serve::ListenerExt;
use rmpv::Value;
use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::{SocketIo, TransportType};

/// All the arguments of an event, in order. It goes through serde as a *tuple*, which is
/// how socketioxide's parser tells "every argument" apart from "the first argument", and
/// it holds `rmpv::Value`s because they have a binary variant: attachments are decoded to
/// `Value::Binary` and encoded back as binary attachments.
struct Args(Vec<Value>);

impl Serialize for Args {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for arg in &self.0 {
            tuple.serialize_element(arg)?;
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Args {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArgsVisitor;
        impl<'de> Visitor<'de> for ArgsVisitor {
            type Value = Args;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the arguments of an event")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Args, S::Error> {
                let mut args = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(arg) = seq.next_element::<Value>()? {
                    args.push(arg);
                }
                Ok(Args(args))
            }
        }
        deserializer.deserialize_tuple(usize::MAX, ArgsVisitor)
    }
}

/// An ack with no arguments (`43<id>[]`): an empty tuple, not `()` (which would be `[null]`).
const NO_ARGS: Args = Args(Vec::new());

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Ok(workers) = std::env::var("WORKERS") {
        runtime.worker_threads(workers.parse()?);
    }
    runtime.enable_all().build()?.block_on(serve(port))
}

async fn serve(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let (layer, io) = SocketIo::builder()
        .ping_interval(Duration::from_millis(25_000))
        .ping_timeout(Duration::from_millis(20_000))
        .max_payload(1_000_000)
        .transports([TransportType::Websocket, TransportType::Polling])
        .build_layer();

    io.ns("/", async |socket: SocketRef| {
        socket.on("echo", async |Data(args): Data<Args>, ack: AckSender| {
            let _ = ack.send(&args);
        });
        socket.on(
            "broadcast",
            async |io: SocketIo, Data(payload): Data<Value>, ack: AckSender| {
                let _ = io.emit("msg", &payload).await;
                let _ = ack.send(&NO_ARGS);
            },
        );
        socket.on(
            "join",
            async |socket: SocketRef, Data(room): Data<String>, ack: AckSender| {
                socket.join(room);
                let _ = ack.send(&NO_ARGS);
            },
        );
        socket.on(
            "to_room",
            async |io: SocketIo, Data((room, payload)): Data<(String, Value)>, ack: AckSender| {
                let _ = io.to(room).emit("msg", &payload).await;
                let _ = ack.send(&NO_ARGS);
            },
        );
    });

    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await?
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });

    // Stop serving on SIGTERM, give the sockets a short graceful close, then return: dropping
    // the runtime ends whatever connections are left.
    tokio::select! {
        res = axum::serve(listener, app) => res?,
        _ = stop_signal() => {
            let _ = tokio::time::timeout(Duration::from_millis(500), io.close()).await;
        }
    }
    Ok(())
}

/// SIGTERM (how benchmarks stop servers) or Ctrl-C.
async fn stop_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler can be installed");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
