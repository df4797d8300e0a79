//! Redis adapters and emitter for the [`socketio`] server, wire-compatible with the
//! official Node packages, so Rust and Node servers can share one cluster.
//!
//! ```no_run
//! use socketio::SocketIo;
//! use socketio_redis::{RedisAdapter, RedisPubSub};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Speaks with Node servers built with
//! // `createAdapter(pubClient, subClient, { key: "socket.io" })`.
//! let redis = RedisPubSub::connect("redis://127.0.0.1:6379").await?;
//! let adapter = RedisAdapter::classic(redis, "socket.io");
//! let io = SocketIo::builder().adapter(adapter.factory()).build()?;
//! adapter.ready().await;
//! io.emit("hello", "every client of every server")?;
//! # Ok(())
//! # }
//! ```
//!
//! - [`RedisAdapter::classic`]: `@socket.io/redis-adapter`'s `createAdapter` (`PUBLISH`,
//!   the format `@socket.io/redis-emitter` writes too).
//! - [`RedisAdapter::sharded`]: its `createShardedAdapter` (Redis 7 sharded pub/sub), in
//!   the `static`, `dynamic` and `dynamic-private` [`SubscriptionMode`]s.
//! - [`RedisAdapter::streams`]: `@socket.io/redis-streams-adapter` (a Redis stream all
//!   servers read in one order; with connection state recovery, clients recover on any
//!   server).
//! - [`Emitter`]: `@socket.io/redis-emitter`, for processes that are not servers.
//!
//! The request/response layer (broadcasts with acknowledgements, `fetch_sockets`,
//! `sockets_join`/`leave`, `disconnect_sockets`, `server_side_emit` with answers, the
//! server count) is written once over the [`PubSub`] trait; [`RedisPubSub`] is its Redis
//! backend.
//!
//! When Redis is down, each server keeps delivering to its own clients; cross-server
//! operations fail at once with [`RedisAdapterError::Unavailable`] (never a silent
//! single-server cluster), [`RedisAdapter::metrics`] says so, a log line says when Redis
//! goes and comes back, and subscriptions come back by themselves.

mod adapter;
mod emitter;
mod error;
mod link;
mod node;
mod pubsub;
mod redis_pubsub;
mod streams;
mod wire;

pub use adapter::RedisAdapter;
pub use emitter::{Emitter, EmitterError};
pub use error::RedisAdapterError;
pub use link::AdapterMetrics;
pub use pubsub::{MessageHandler, PubSub, PubSubError, Publish, Subscription};
pub use redis_pubsub::RedisPubSub;
pub use streams::StreamsOptions;
pub use wire::SubscriptionMode;
