//! An Engine.IO v4 server over hyper and tower: the transport under Socket.IO.
//!
//! It speaks HTTP long-polling and WebSocket (directly, or by upgrade from long-polling)
//! with the official clients unchanged, runs the heartbeat, and enforces a limit on every
//! resource a client can make it spend. [`EngineIo`] is a [`tower_service::Service`]: mount
//! it in axum or hyper, or run it with [`serve`].
//!
//! Each session is owned by one task that drives the protocol core of the
//! [`engineio_proto`] crate. The application receives a session's messages, in order,
//! through a [`SocketHandler`], and writes with an [`EngineSocket`].
//!
//! An echo server:
//!
//! ```no_run
//! use engineio::{CloseReason, EngineIo, EngineSocket, Message, SocketHandler};
//!
//! struct Echo(EngineSocket);
//!
//! impl SocketHandler for Echo {
//!     fn on_message(&mut self, message: Message) {
//!         // Full only if the client stopped reading; an echo server may drop then.
//!         let _ = self.0.try_send(message);
//!     }
//!     fn on_close(&mut self, _reason: CloseReason) {}
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let engine = EngineIo::builder().build(Echo)?;
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     engineio::serve(listener, engine).await?;
//!     Ok(())
//! }
//! ```

mod body;
mod clock;
mod config;
mod driver;
mod error;
mod handler;
mod head;
mod registry;
mod serve;
mod server;
mod socket;
mod ws;

pub use config::{ConfigError, Cookie, Cors, EngineIoBuilder, Refusal, SameSite, Transports};
pub use engineio_proto::{CloseReason, Message, Sid, Text, TransportKind};
pub use error::ResponseBody;
pub use handler::{Handler, SocketHandler};
pub use head::RemoteAddr;
pub use serve::{Serve, serve};
pub use server::{EngineIo, EngineStats};
pub use socket::{BatchError, EngineSocket, SendError, TrySendError};
