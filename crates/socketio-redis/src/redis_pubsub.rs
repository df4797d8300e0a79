//! [`PubSub`] over Redis, through the `redis` crate's connection manager: one connection
//! publishes (commands pipelined in order), one subscribes (RESP3, so messages arrive as
//! push frames and the manager subscribes again by itself after a reconnection). A
//! watchdog pings both every second, which is what makes a manager reconnect when no
//! command would, and says in the log when Redis goes and comes back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, ProtocolVersion, PushKind};
use socketio::BoxFuture;

use crate::pubsub::{MessageHandler, PubSub, PubSubError, Publish, Subscription};

/// How often the watchdog pings Redis.
const WATCHDOG_PERIOD: Duration = Duration::from_secs(1);

/// Redis as a [`PubSub`] broker (a single server, or the primary of a replicated pair).
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

struct Inner {
    publisher: ConnectionManager,
    subscriber: ConnectionManager,
    routes: Mutex<HashMap<Subscription, MessageHandler>>,
    connected: AtomicBool,
}

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
        let client = redis::Client::open(info.clone()).map_err(error)?;
        let publisher = ConnectionManager::new_with_config(client, manager_config())
            .await
            .map_err(error)?;
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(resp3)).map_err(error)?;
        let (push, mut pushed) = tokio::sync::mpsc::unbounded_channel();
        let config = manager_config()
            .set_push_sender(push)
            .set_automatic_resubscription();
        let subscriber = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(error)?;
        let inner = Arc::new(Inner {
            publisher,
            subscriber,
            routes: Mutex::default(),
            connected: AtomicBool::new(true),
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
        Ok(RedisPubSub { inner })
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
        let ping = |connection: &mut ConnectionManager| {
            let mut connection = connection.clone();
            async move {
                tokio::time::timeout(
                    Duration::from_secs(2),
                    redis::cmd("PING").query_async::<()>(&mut connection),
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
    }
}

impl PubSub for RedisPubSub {
    fn publish(&self, messages: Vec<Publish>) -> BoxFuture<Result<(), PubSubError>> {
        let mut connection = self.inner.publisher.clone();
        Box::pin(async move {
            let mut pipeline = redis::pipe();
            for message in &messages {
                let command = if message.shard { "SPUBLISH" } else { "PUBLISH" };
                pipeline
                    .cmd(command)
                    .arg(&message.channel)
                    .arg(&message.payload)
                    .ignore();
            }
            pipeline
                .query_async::<()>(&mut connection)
                .await
                .map_err(error)
        })
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
            let result = match &subscription {
                Subscription::Channel(channel) => connection.subscribe(channel).await,
                Subscription::Pattern(pattern) => connection.psubscribe(pattern).await,
                Subscription::Shard(channel) => redis::cmd("SSUBSCRIBE")
                    .arg(channel)
                    .query_async::<redis::Value>(&mut connection)
                    .await
                    .map(drop),
            };
            result.map_err(error)
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
            let result = match &subscription {
                Subscription::Channel(channel) => connection.unsubscribe(channel).await,
                Subscription::Pattern(pattern) => connection.punsubscribe(pattern).await,
                Subscription::Shard(channel) => redis::cmd("SUNSUBSCRIBE")
                    .arg(channel)
                    .query_async::<redis::Value>(&mut connection)
                    .await
                    .map(drop),
            };
            result.map_err(error)
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
            let (_, count): (String, usize) = redis::cmd("PUBSUB")
                .arg(kind)
                .arg(&channel)
                .query_async::<Vec<(String, usize)>>(&mut connection)
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
