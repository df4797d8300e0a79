//! [`PubSub`] over Redis, through the `redis` crate: a single server through its
//! connection manager, or a Redis Cluster through its cluster connection. One connection
//! publishes (in order), one subscribes (RESP3, so messages arrive as push frames and the
//! connection subscribes again by itself after a reconnection, or after a failover moved a
//! shard channel's slot). A watchdog pings both every second, which is what makes a
//! manager reconnect when no command would, and says in the log when Redis goes and comes
//! back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{IntoConnectionInfo, ProtocolVersion, PushKind};
use socketio::BoxFuture;

use crate::pubsub::{MessageHandler, PubSub, PubSubError, Publish, Subscription};

/// How often the watchdog pings Redis.
const WATCHDOG_PERIOD: Duration = Duration::from_secs(1);

/// Redis as a [`PubSub`] broker: a single server ([`connect`](Self::connect)) or a Redis
/// Cluster ([`connect_cluster`](Self::connect_cluster), where `PUBSUB NUMSUB` and
/// `SHARDNUMSUB` are summed over its nodes).
#[derive(Clone)]
pub struct RedisPubSub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisPubSub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPubSub")
            .field("connected", &self.inner.connected.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A connection to a single server or to a cluster.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    pub(crate) async fn query<T: redis::FromRedisValue>(
        &mut self,
        command: &redis::Cmd,
    ) -> redis::RedisResult<T> {
        match self {
            Connection::Single(connection) => command.query_async(connection).await,
            Connection::Cluster(connection) => command.query_async(connection).await,
        }
    }

    async fn subscription(
        &mut self,
        subscription: &Subscription,
        add: bool,
    ) -> redis::RedisResult<()> {
        match (self, subscription) {
            (Connection::Single(c), Subscription::Channel(name)) if add => c.subscribe(name).await,
            (Connection::Single(c), Subscription::Channel(name)) => c.unsubscribe(name).await,
            (Connection::Single(c), Subscription::Pattern(name)) if add => c.psubscribe(name).await,
            (Connection::Single(c), Subscription::Pattern(name)) => c.punsubscribe(name).await,
            // The manager has no method for these; it tracks them from the server's
            // confirmations all the same, and subscribes again after a reconnection.
            (Connection::Single(c), Subscription::Shard(name)) => {
                let command = if add { "SSUBSCRIBE" } else { "SUNSUBSCRIBE" };
                redis::cmd(command)
                    .arg(name)
                    .query_async::<redis::Value>(c)
                    .await
                    .map(drop)
            }
            (Connection::Cluster(c), Subscription::Channel(name)) if add => c.subscribe(name).await,
            (Connection::Cluster(c), Subscription::Channel(name)) => c.unsubscribe(name).await,
            (Connection::Cluster(c), Subscription::Pattern(name)) if add => {
                c.psubscribe(name).await
            }
            (Connection::Cluster(c), Subscription::Pattern(name)) => c.punsubscribe(name).await,
            (Connection::Cluster(c), Subscription::Shard(name)) if add => c.ssubscribe(name).await,
            (Connection::Cluster(c), Subscription::Shard(name)) => c.sunsubscribe(name).await,
        }
    }
}

/// Where the connections go, to open another one.
#[derive(Clone)]
enum Target {
    Single(redis::ConnectionInfo),
    Cluster(Vec<String>),
}

struct Inner {
    target: Target,
    publisher: Connection,
    subscriber: Connection,
    routes: Mutex<HashMap<Subscription, MessageHandler>>,
    connected: AtomicBool,
    /// Cluster only: watchdog ticks left during which every subscription is made again
    /// (after a node went away, its slots' shard channels must follow them to their new
    /// masters, which the client does not always do by itself).
    resync_ticks: std::sync::atomic::AtomicU32,
}

/// Ticks of resubscription after a cluster node went away (the failover takes a node
/// timeout or more).
const RESYNC_TICKS: u32 = 10;

fn error(error: redis::RedisError) -> PubSubError {
    PubSubError(Box::new(error))
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(3)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500))
}

impl RedisPubSub {
    /// Connects to the Redis at `url` (`redis://host:port/db`, `rediss://` for TLS is not
    /// built in). Fails if it does not answer now; later outages are survived.
    pub async fn connect(url: &str) -> Result<Self, PubSubError> {
        let info = url.into_connection_info().map_err(error)?;
        let target = Target::Single(info.clone());
        let client = redis::Client::open(info.clone()).map_err(error)?;
        let publisher = ConnectionManager::new_with_config(client, manager_config())
            .await
            .map_err(error)?;
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(resp3)).map_err(error)?;
        let (push, pushed) = tokio::sync::mpsc::unbounded_channel();
        let config = manager_config()
            .set_push_sender(push)
            .set_automatic_resubscription();
        let subscriber = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(error)?;
        Ok(RedisPubSub::start(
            target,
            Connection::Single(publisher),
            Connection::Single(subscriber),
            pushed,
        ))
    }

    /// Connects to a Redis Cluster through any of its nodes (`redis://host:port` each);
    /// the others are discovered. Shard channels follow their slots through failovers.
    pub async fn connect_cluster(nodes: &[&str]) -> Result<Self, PubSubError> {
        let nodes: Vec<String> = nodes.iter().map(|node| (*node).to_owned()).collect();
        let target = Target::Cluster(nodes.clone());
        let timeouts = |builder: ClusterClientBuilder| {
            builder
                .connection_timeout(Duration::from_secs(1))
                .response_timeout(Duration::from_secs(3))
        };
        let publisher = timeouts(ClusterClientBuilder::new(nodes.clone()))
            .build()
            .map_err(error)?
            .get_async_connection()
            .await
            .map_err(error)?;
        let (push, pushed) = tokio::sync::mpsc::unbounded_channel();
        let subscriber = timeouts(ClusterClientBuilder::new(nodes))
            .use_protocol(ProtocolVersion::RESP3)
            .push_sender(push)
            .build()
            .map_err(error)?
            .get_async_connection()
            .await
            .map_err(error)?;
        Ok(RedisPubSub::start(
            target,
            Connection::Cluster(publisher),
            Connection::Cluster(subscriber),
            pushed,
        ))
    }

    fn start(
        target: Target,
        publisher: Connection,
        subscriber: Connection,
        mut pushed: tokio::sync::mpsc::UnboundedReceiver<redis::PushInfo>,
    ) -> Self {
        let inner = Arc::new(Inner {
            target,
            publisher,
            subscriber,
            routes: Mutex::default(),
            connected: AtomicBool::new(true),
            resync_ticks: std::sync::atomic::AtomicU32::new(0),
        });
        let reader = Arc::downgrade(&inner);
        tokio::spawn(async move {
            while let Some(push) = pushed.recv().await {
                let Some(inner) = reader.upgrade() else {
                    return;
                };
                inner.dispatch(push);
            }
        });
        tokio::spawn(watchdog(Arc::downgrade(&inner)));
        RedisPubSub { inner }
    }
}

impl RedisPubSub {
    /// Opens a connection of its own, whose commands may block for up to
    /// `response_timeout` (the streams adapter's `XREAD ... BLOCK`).
    pub(crate) async fn dedicated(
        &self,
        response_timeout: Duration,
    ) -> Result<Connection, PubSubError> {
        match &self.inner.target {
            Target::Single(info) => {
                let client = redis::Client::open(info.clone()).map_err(error)?;
                let config = manager_config().set_response_timeout(Some(response_timeout));
                let manager = ConnectionManager::new_with_config(client, config)
                    .await
                    .map_err(error)?;
                Ok(Connection::Single(manager))
            }
            Target::Cluster(nodes) => {
                let connection = ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(Duration::from_secs(1))
                    .response_timeout(response_timeout)
                    .build()
                    .map_err(error)?
                    .get_async_connection()
                    .await
                    .map_err(error)?;
                Ok(Connection::Cluster(connection))
            }
        }
    }

    /// The connection commands are sent on (shared; commands must not block).
    pub(crate) fn commands(&self) -> Connection {
        self.inner.publisher.clone()
    }
}

impl Connection {
    /// Runs `commands` in this order (one pipeline on a single server; on a cluster each
    /// to its slot's node, sent in order and answered concurrently), ignoring answers.
    pub(crate) async fn run_all(&self, commands: Vec<redis::Cmd>) -> Result<(), PubSubError> {
        match self.clone() {
            Connection::Single(mut connection) => {
                let mut pipeline = redis::pipe();
                for command in commands {
                    pipeline.add_command(command).ignore();
                }
                pipeline
                    .query_async::<()>(&mut connection)
                    .await
                    .map_err(error)
            }
            Connection::Cluster(connection) => {
                let sends = commands.into_iter().map(|command| {
                    let mut connection = connection.clone();
                    async move { command.query_async::<()>(&mut connection).await }
                });
                futures_util::future::join_all(sends)
                    .await
                    .into_iter()
                    .collect::<Result<(), _>>()
                    .map_err(error)
            }
        }
    }
}

impl Inner {
    fn dispatch(&self, push: redis::PushInfo) {
        let bytes = |value: Option<&redis::Value>| match value {
            Some(redis::Value::BulkString(bytes)) => Some(bytes.clone()),
            Some(redis::Value::SimpleString(text)) => Some(text.clone().into_bytes()),
            _ => None,
        };
        let text = |value| bytes(value).and_then(|b| String::from_utf8(b).ok());
        let (subscription, channel, payload) = match push.kind {
            PushKind::Message | PushKind::SMessage => {
                let Some(channel) = text(push.data.first()) else {
                    return;
                };
                let subscription = if push.kind == PushKind::Message {
                    Subscription::Channel(channel.clone())
                } else {
                    Subscription::Shard(channel.clone())
                };
                (subscription, channel, bytes(push.data.get(1)))
            }
            PushKind::PMessage => {
                let (Some(pattern), Some(channel)) =
                    (text(push.data.first()), text(push.data.get(1)))
                else {
                    return;
                };
                (
                    Subscription::Pattern(pattern),
                    channel,
                    bytes(push.data.get(2)),
                )
            }
            PushKind::Disconnection => {
                self.set_connected(false);
                self.resync_ticks.store(RESYNC_TICKS, Ordering::Release);
                return;
            }
            // A shard channel's slot moved (Redis 7 tells its subscribers so).
            PushKind::SUnsubscribe => {
                self.resync_ticks.store(RESYNC_TICKS, Ordering::Release);
                return;
            }
            _ => return,
        };
        let Some(payload) = payload else { return };
        let handler = self
            .routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&subscription)
            .cloned();
        if let Some(handler) = handler {
            handler(&channel, &payload);
        }
    }

    fn set_connected(&self, connected: bool) {
        if self.connected.swap(connected, Ordering::AcqRel) != connected {
            if connected {
                tracing::info!("Redis answers again; subscriptions restored");
            } else {
                tracing::warn!(
                    "Redis is unreachable: cross-server operations fail until it is back"
                );
            }
        }
    }
}

/// Pings both connections every second: a failed ping marks Redis down, and makes the
/// manager reconnect (and subscribe again) as soon as Redis is back.
async fn watchdog(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(WATCHDOG_PERIOD).await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let (mut publisher, mut subscriber) = (strong.publisher.clone(), strong.subscriber.clone());
        drop(strong);
        let ping = |connection: &mut Connection| {
            let mut connection = connection.clone();
            async move {
                tokio::time::timeout(
                    Duration::from_secs(2),
                    connection.query::<()>(&redis::cmd("PING")),
                )
                .await
                .is_ok_and(|answer| answer.is_ok())
            }
        };
        let (a, b) = tokio::join!(ping(&mut publisher), ping(&mut subscriber));
        let Some(strong) = inner.upgrade() else {
            return;
        };
        strong.set_connected(a && b);
        if !(a && b) {
            strong.resync_ticks.store(RESYNC_TICKS, Ordering::Release);
        }
        if let Connection::Cluster(_) = strong.subscriber
            && strong
                .resync_ticks
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                .is_ok()
        {
            // Shard channels only: a plain channel or pattern is on one node of the
            // cluster, which hears every node's publishes, and the client moves it itself;
            // subscribing it again could put it on a second node, and deliver twice.
            let subscriptions: Vec<Subscription> = strong
                .routes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .keys()
                .filter(|subscription| matches!(subscription, Subscription::Shard(_)))
                .cloned()
                .collect();
            let connection = strong.subscriber.clone();
            // Subscribing again where one already is changes nothing. Each at once, each
            // bounded: one to a node that is gone must not hold the others.
            let again = subscriptions.iter().map(|subscription| {
                let mut connection = connection.clone();
                async move {
                    let made = tokio::time::timeout(
                        Duration::from_secs(1),
                        connection.subscription(subscription, true),
                    )
                    .await;
                    matches!(made, Ok(Ok(())))
                }
            });
            let made = futures_util::future::join_all(again).await;
            tracing::debug!(
                ?made,
                "subscriptions made again after a cluster node went away"
            );
            if !made.iter().all(|&made| made) {
                // Not all of them yet (the failover is under way): go on trying.
                strong.resync_ticks.fetch_max(3, Ordering::AcqRel);
            }
        }
    }
}

impl PubSub for RedisPubSub {
    fn publish(&self, messages: Vec<Publish>) -> BoxFuture<Result<(), PubSubError>> {
        let connection = self.inner.publisher.clone();
        let commands = messages
            .iter()
            .map(|message| {
                let mut command = redis::cmd(if message.shard { "SPUBLISH" } else { "PUBLISH" });
                command.arg(&message.channel).arg(&message.payload);
                command
            })
            .collect();
        Box::pin(async move { connection.run_all(commands).await })
    }

    fn subscribe(
        &self,
        subscription: Subscription,
        handler: MessageHandler,
    ) -> BoxFuture<Result<(), PubSubError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            inner
                .routes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(subscription.clone(), handler);
            let mut connection = inner.subscriber.clone();
            connection
                .subscription(&subscription, true)
                .await
                .map_err(error)
        })
    }

    fn unsubscribe(&self, subscription: Subscription) -> BoxFuture<Result<(), PubSubError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            inner
                .routes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&subscription);
            let mut connection = inner.subscriber.clone();
            connection
                .subscription(&subscription, false)
                .await
                .map_err(error)
        })
    }

    fn subscriber_count(
        &self,
        shard: bool,
        channel: &str,
    ) -> BoxFuture<Result<usize, PubSubError>> {
        let mut connection = self.inner.publisher.clone();
        let channel = channel.to_owned();
        Box::pin(async move {
            let kind = if shard { "SHARDNUMSUB" } else { "NUMSUB" };
            let mut command = redis::cmd("PUBSUB");
            command.arg(kind).arg(&channel);
            let (_, count): (String, usize) = connection
                .query::<Vec<(String, usize)>>(&command)
                .await
                .map_err(error)?
                .into_iter()
                .next()
                .unwrap_or((channel, 0));
            Ok(count)
        })
    }

    fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }
}
