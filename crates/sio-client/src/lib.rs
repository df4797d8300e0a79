//! A Socket.IO client for Rust, natively (on tokio) and in the browser (`wasm32`, on the
//! browser's `WebSocket` and `fetch`), with one API for both. It speaks to the official
//! Node.js server unchanged, and to this project's own.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let socket = sio_client::io("http://localhost:3000/chat")
//!         .auth(serde_json::json!({ "token": "abc" }))
//!         .on("message", |event| {
//!             let text: (String,) = event.deserialize().unwrap_or_default();
//!             println!("message: {}", text.0);
//!             // The server asked for an answer: give it one.
//!             let _ = event.ack(&("thanks",));
//!         })
//!         .on_connect(|socket| println!("connected as {:?}", socket.id()))
//!         .connect()?;
//!
//!     socket.emit("hello", &("world", 42))?;
//!     let (answer,): (String,) = socket
//!         .timeout(Duration::from_secs(5))
//!         .emit_with_ack("ping", &())?
//!         .await?
//!         .deserialize()?;
//!     println!("the server answered {answer}");
//!     socket.disconnect();
//!     Ok(())
//! }
//! ```
//!
//! What it does, with the official client's option names and defaults:
//! - **Transports**: HTTP long-polling and WebSocket, the upgrade between them,
//!   `rememberUpgrade`, `tryAllTransports`, `path`, `query`, `extraHeaders`; the heartbeat
//!   deadline (no ping within `pingInterval + pingTimeout` closes with `ping timeout`);
//!   the server's `maxPayload` respected on send. TLS through rustls, certificates and
//!   host names verified against the system's roots or given ones.
//! - **Managers** ([`Manager`]): one connection shared by the sockets of several
//!   namespaces (or not: `force_new`, `multiplex(false)`), reconnection with the official
//!   backoff, the connect timeout, the manager's events, no reconnection after the server
//!   disconnects a socket.
//! - **Sockets** ([`Socket`]): `auth` as a value or a callback asked on every connection;
//!   emits with or without an acknowledgement whose timeout fires; `volatile`; answering
//!   the server's acknowledgements; binary anywhere in the arguments (`bytes::Bytes`);
//!   several listeners per event, catch-all listeners both ways; a **bounded** offline
//!   buffer with a stated policy ([`OfflineBuffer`]); `retries` with `ackTimeout` (an
//!   ordered, at-least-once queue); connection state recovery; the msgpack parser.
//!
//! Everything deterministic (the Engine.IO session, backoff, acknowledgements and their
//! timeouts, the buffers, recovery offsets) is a state machine on explicit time shared by
//! the native and the browser drivers; the drivers only move bytes.
//!
//! Listeners run on the connection's task, one at a time, in the order events arrived. A
//! listener with slow work spawns it, and answers later with [`Event::ack_sender`]. The
//! connection lives while a handle of its manager or of one of its sockets does.

mod core;
mod driver;
mod error;
mod event;
mod io;
mod listeners;
mod manager;
mod options;
mod platform;
mod runtime;
mod shared;
mod socket;
mod url;

pub use crate::core::Emitted;
pub use error::{AckError, BuildError, EmitError};
pub use event::{ConnectError, DisconnectReason, ManagerEvent};
pub use io::{SocketBuilder, io};
pub use listeners::ListenerId;
pub use options::{
    Auth, ManagerOptions, OfflineBuffer, SocketOptions, TlsOptions, Transport, WhenFull,
};
pub use platform::{AsyncCallback, BoxFuture, MaybeSend, MaybeSync};
pub use shared::{AckSender, Event, Manager, Socket};
pub use socket::{AckFuture, Emitter};
pub use socketio_proto::{Args, ArgsError, Map, Parser, Value};
