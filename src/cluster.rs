//! Joining a cluster through Redis: the adapter every namespace uses, and an emitter for
//! the publish API's emits to namespaces that have no socket on this node (the other
//! nodes may have some).

use socketio_redis::{Emitter, RedisAdapter, RedisPubSub, StreamsOptions, SubscriptionMode};

use crate::config::{AdapterKind, ClusterSettings};

/// The cluster side of this server.
#[derive(Clone, Debug)]
pub(crate) struct Cluster {
    pub(crate) adapter: RedisAdapter,
    pub(crate) emitter: Emitter,
}

impl Cluster {
    /// Connects to the cluster's Redis (which must answer now).
    pub(crate) async fn connect(settings: &ClusterSettings) -> Result<Cluster, String> {
        let redis = RedisPubSub::connect(&settings.redis_url)
            .await
            .map_err(|error| format!("cannot reach Redis at {}: {error}", settings.redis_url))?;
        let key = settings.key.clone();
        Ok(match settings.adapter {
            AdapterKind::Classic => Cluster {
                adapter: RedisAdapter::classic(redis.clone(), key.clone()),
                emitter: Emitter::new(redis, key),
            },
            AdapterKind::Sharded => Cluster {
                adapter: RedisAdapter::sharded(
                    redis.clone(),
                    key.clone(),
                    SubscriptionMode::Dynamic,
                ),
                emitter: Emitter::sharded(redis, key, SubscriptionMode::Dynamic),
            },
            AdapterKind::Streams => {
                let options = StreamsOptions {
                    stream_name: key.clone(),
                    channel_prefix: key.clone(),
                    // Node's default with the default key; the key's own otherwise.
                    session_key_prefix: if key == "socket.io" {
                        "sio:session:".to_owned()
                    } else {
                        format!("{key}:session:")
                    },
                    ..StreamsOptions::default()
                };
                Cluster {
                    adapter: RedisAdapter::streams(redis.clone(), options.clone()),
                    emitter: Emitter::streams(redis, options),
                }
            }
        })
    }
}
