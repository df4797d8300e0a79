//! [`RedisAdapter`]: the cluster adapter a server is built with, one per server, for
//! every namespace.

use std::sync::Arc;
use std::time::Duration;

use socketio::{Adapter, Namespace};

use crate::link::{AdapterMetrics, Link};
use crate::node::{Node, NodeAdapter, random_id};
use crate::pubsub::PubSub;
use crate::redis_pubsub::RedisPubSub;
use crate::streams::{StreamLog, StreamsOptions};
use crate::wire::classic::ClassicCodec;
use crate::wire::cluster::ClusterCodec;
use crate::wire::streams::StreamsCodec;
use crate::wire::{Codec, SubscriptionMode};

/// Which official Node adapter the servers of the cluster speak with.
#[derive(Clone)]
enum Format {
    Classic {
        key: String,
    },
    Sharded {
        prefix: String,
        mode: SubscriptionMode,
    },
    Streams {
        log: Arc<StreamLog>,
    },
}

/// A cluster adapter over a [`PubSub`] broker, wire-compatible with the official Node
/// adapters: Rust and Node servers can share one cluster.
///
/// Build it inside a Tokio runtime (it starts its publishing and subscribing tasks),
/// pass [`factory`](Self::factory) to [`SocketIoBuilder::adapter`](socketio::SocketIoBuilder::adapter),
/// then await [`ready`](Self::ready) before serving, so no message of the others is
/// missed. Give each server its own [`PubSub`] connection (a `RedisPubSub` routes one
/// handler per channel: two servers of one process sharing it would take each other's
/// subscriptions).
#[derive(Clone)]
pub struct RedisAdapter {
    link: Arc<Link>,
    format: Format,
    requests_timeout: Duration,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field(
                "format",
                &match &self.format {
                    Format::Classic { .. } => "classic",
                    Format::Sharded { .. } => "sharded",
                    Format::Streams { .. } => "streams",
                },
            )
            .field("requests_timeout", &self.requests_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisAdapter {
    /// The classic adapter of `@socket.io/redis-adapter` (`createAdapter(pub, sub,
    /// { key })`), which `@socket.io/redis-emitter` reaches too; `key` is Node's `key`
    /// option (`"socket.io"` by default).
    pub fn classic(pubsub: impl PubSub, key: impl Into<String>) -> Self {
        RedisAdapter::new(Arc::new(pubsub), Format::Classic { key: key.into() })
    }

    /// The sharded adapter of `@socket.io/redis-adapter` (`createShardedAdapter(pub,
    /// sub, { channelPrefix, subscriptionMode })`, Redis 7 `SPUBLISH`/`SSUBSCRIBE`).
    pub fn sharded(
        pubsub: impl PubSub,
        channel_prefix: impl Into<String>,
        mode: SubscriptionMode,
    ) -> Self {
        RedisAdapter::new(
            Arc::new(pubsub),
            Format::Sharded {
                prefix: channel_prefix.into(),
                mode,
            },
        )
    }

    /// The adapter of `@socket.io/redis-streams-adapter` (`createAdapter(client, {
    /// streamName, channelPrefix, sessionKeyPrefix, maxLen, readCount, blockTimeInMs })`):
    /// durable messages go through a Redis stream that every server reads, so that with
    /// connection state recovery on
    /// ([`SocketIoBuilder::connection_state_recovery`](socketio::SocketIoBuilder::connection_state_recovery))
    /// a client recovers its session on any server, with every packet it missed, once and
    /// in order; a server that lost Redis for a while reads on from the last entry it had.
    /// The stream's entry ids are the offsets, as in Node.
    pub fn streams(redis: RedisPubSub, options: StreamsOptions) -> Self {
        let link = Link::start(Arc::new(redis.clone()));
        let log = StreamLog::start(redis, options, link.clone());
        RedisAdapter {
            link,
            format: Format::Streams { log },
            requests_timeout: Duration::from_secs(5),
        }
    }

    fn new(pubsub: Arc<dyn PubSub>, format: Format) -> Self {
        RedisAdapter {
            link: Link::start(pubsub),
            format,
            requests_timeout: Duration::from_secs(5),
        }
    }

    /// How long `fetch_sockets` and `server_side_emit` wait for the other servers
    /// (Node's `requestsTimeout`, 5 s by default).
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// The adapter of each namespace, for [`SocketIoBuilder::adapter`](socketio::SocketIoBuilder::adapter).
    pub fn factory(&self) -> impl Fn(&Namespace) -> Arc<dyn Adapter> + Send + Sync + 'static {
        let adapter = self.clone();
        move |ns: &Namespace| adapter.adapter_of(ns)
    }

    fn adapter_of(&self, ns: &Namespace) -> Arc<dyn Adapter> {
        let mut log = None;
        let (uid, codec): (String, Box<dyn Codec>) = match &self.format {
            Format::Classic { key } => {
                // Node's classic adapter uses 6-character ids.
                let uid = random_id()[..6].to_owned();
                let codec = Box::new(ClassicCodec::new(key, ns.name(), &uid));
                (uid, codec)
            }
            Format::Sharded { prefix, mode } => {
                let uid = random_id();
                let codec = Box::new(ClusterCodec::new(prefix, ns.name(), &uid, *mode));
                (uid, codec)
            }
            Format::Streams { log: stream } => {
                let uid = random_id();
                let prefix = &stream.options.channel_prefix;
                let codec = Box::new(StreamsCodec::new(prefix, ns.name(), &uid));
                log = Some(stream.clone());
                (uid, codec)
            }
        };
        let node = Node::start(
            ns,
            uid,
            codec,
            self.link.clone(),
            log,
            self.requests_timeout,
        );
        Arc::new(NodeAdapter(node))
    }

    /// Waits until every subscription asked for so far is in place (and, for the streams
    /// adapter, until the stream is read from its end).
    pub async fn ready(&self) {
        self.link.settled().await;
        if let Format::Streams { log } = &self.format {
            log.started().await;
        }
    }

    /// Waits until the stream entries and sessions queued so far were written (streams
    /// adapter): call it after [`SocketIo::close`](socketio::SocketIo::close) and before
    /// the process exits, so that the sessions of the clients it let go are kept for their
    /// recovery on another server.
    pub async fn flush(&self) {
        if let Format::Streams { log } = &self.format {
            log.flush().await;
        }
    }

    /// Counters and the broker's state, for metrics and health checks.
    pub fn metrics(&self) -> AdapterMetrics {
        self.link.metrics()
    }
}
