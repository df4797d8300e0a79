//! The thin publish/subscribe interface the adapters are written over. Redis
//! ([`RedisPubSub`](crate::RedisPubSub)) is its first backend; another broker needs only
//! these five operations.

use std::fmt;
use std::sync::Arc;

use socketio::BoxFuture;

/// A subscription: a channel, a pattern (`PSUBSCRIBE`) or a shard channel (`SSUBSCRIBE`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subscription {
    /// A plain channel.
    Channel(String),
    /// A glob pattern of channels.
    Pattern(String),
    /// A shard channel (Redis 7 sharded pub/sub).
    Shard(String),
}

/// A message to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    /// `SPUBLISH` rather than `PUBLISH`.
    pub shard: bool,
    /// The channel.
    pub channel: String,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// Receives the messages of one subscription: the channel they came on, and their bytes.
/// Called on the backend's reading task: it must not block.
pub type MessageHandler = Arc<dyn Fn(&str, &[u8]) + Send + Sync>;

/// A failure of the broker.
#[derive(Debug)]
pub struct PubSubError(pub Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for PubSubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for PubSubError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// A publish/subscribe broker.
pub trait PubSub: Send + Sync + 'static {
    /// Publishes these messages, in this order.
    fn publish(&self, messages: Vec<Publish>) -> BoxFuture<Result<(), PubSubError>>;

    /// Subscribes; `handler` gets every message of the subscription until
    /// [`unsubscribe`](Self::unsubscribe). Subscriptions outlive reconnections.
    fn subscribe(
        &self,
        subscription: Subscription,
        handler: MessageHandler,
    ) -> BoxFuture<Result<(), PubSubError>>;

    /// Ends a subscription.
    fn unsubscribe(&self, subscription: Subscription) -> BoxFuture<Result<(), PubSubError>>;

    /// How many subscribers a channel has (`PUBSUB NUMSUB`, or `SHARDNUMSUB` with
    /// `shard`), across the whole broker.
    fn subscriber_count(&self, shard: bool, channel: &str)
    -> BoxFuture<Result<usize, PubSubError>>;

    /// Whether the broker answered lately (false while it is down).
    fn is_connected(&self) -> bool;
}
