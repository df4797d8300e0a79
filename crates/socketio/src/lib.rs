//! A Socket.IO v5 server: namespaces, rooms, broadcasts, acknowledgements and middleware,
//! wire-compatible with the official `socket.io-client` and running on the [`engineio`]
//! crate's Engine.IO server (HTTP long-polling and WebSocket).
//!
//! The vocabulary is Node's ([`of`](SocketIo::of), [`to`](BroadcastOperator::to),
//! [`except`](BroadcastOperator::except), [`volatile`](BroadcastOperator::volatile),
//! [`timeout`](BroadcastOperator::timeout), [`fetch_sockets`](Namespace::fetch_sockets),
//! [`on_any`](Socket::on_any)…), in async Rust with serde-typed arguments:
//!
//! ```no_run
//! use socketio::{Data, Event, Socket, SocketIo};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let io = SocketIo::new();
//!     io.on_connection(|socket: Socket| async move {
//!         socket.join("lobby");
//!         // Typed arguments.
//!         socket.on("chat", |socket: Socket, Data((text,)): Data<(String,)>| async move {
//!             let _ = socket.to("lobby").emit("chat", &(socket.id().as_str(), text));
//!         });
//!         // Arguments as received, acknowledged unchanged.
//!         socket.on("echo", |_socket: Socket, event: Event| async move {
//!             let _ = event.ack_raw(event.raw_args());
//!         });
//!     });
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     socketio::serve(listener, io).await?;
//!     Ok(())
//! }
//! ```
//!
//! A socket's handlers run one event at a time, in arrival order, without blocking its
//! connection's heartbeat or other sockets. A broadcast is encoded once. Every resource a
//! client can make the server spend is bounded: see [`SocketIoBuilder`].
//!
//! With [connection state recovery](SocketIoBuilder::connection_state_recovery) on, a
//! client whose connection drops comes back with its socket (id, rooms, data) and every
//! packet it missed, once each and in order; [`Socket::recovery`] tells the handler how
//! it went.

mod adapter;
mod broadcast;
mod config;
mod connection;
mod delivery;
mod dispatch;
mod error;
mod event;
mod handler;
mod handshake;
mod id;
mod layer;
mod namespace;
mod recovery;
mod rooms;
mod server;
mod socket;
mod stats;

pub use adapter::{
    Adapter, AdapterError, BroadcastMessage, LocalAdapter, RemoteAcks, RemoteSocketData,
    SessionFetch, Target,
};
pub use broadcast::{AckStream, BroadcastAckError, BroadcastOperator, RemoteSocket};
pub use config::SlowConsumerPolicy;
pub use engineio::{Cookie, Cors, EngineIoBuilder, Refusal, TransportKind, serve};
pub use error::{AckError, ConnectError, DisconnectReason, EmitError};
pub use event::{AckSender, Event};
pub use handler::{
    BoxFuture, Data, EventHandler, HandlerOutput, WithData, WithDataAndAck, WithEvent,
};
pub use handshake::Handshake;
pub use layer::{SocketIoLayer, SocketIoService};
pub use namespace::{Namespace, ParentNamespace, WeakNamespace};
pub use recovery::{
    ConnectionStateRecovery, FetchedSession, MemorySessionStore, OffsetFormat, PersistedSession,
    PreviousSession, Recovery, RecoveryError, RestoreFailure, RestoredSession, SessionStore,
};
pub use rooms::{IntoRooms, RoomEvent};
pub use server::{SocketIo, SocketIoBuilder};
pub use socket::{ListenerId, Socket, SocketEmitter, SocketId};
pub use socketio_proto::{Args, ArgsError, DecoderLimits, Encoded, Map, Parser, Value};
pub use stats::Stats;

/// Any error, for handlers that use `?` on several kinds (arguments, emits, acks):
/// `Ok::<_, socketio::BoxError>(())`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
