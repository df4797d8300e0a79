//! One server of a cluster on Redis, as `shared/cluster/CONTRACT.md` describes it: the
//! program cluster checks run beside Node servers built with the official adapters.
//!
//! ```sh
//! PORT=3001 NODE_NAME=node-A ADAPTER=classic KEY=test \
//!   cargo run --release --example cluster_node
//! ```
//!
//! Written on the public API only, as a user would.

use std::io::Write as _;
use std::time::Duration;

use serde_json::json;
use socketio::{BroadcastAckError, ConnectionStateRecovery, Event, Socket, SocketIo, Value};
use socketio_redis::{
    RedisAdapter, RedisAdapterError, RedisPubSub, StreamsOptions, SubscriptionMode,
};

struct Config {
    port: u16,
    node: String,
    adapter: String,
    key: String,
    redis_url: String,
}

fn config() -> Result<Config, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Ok(Config {
        port: var("PORT")
            .ok_or("PORT is required")?
            .parse()
            .map_err(|e| format!("PORT: {e}"))?,
        node: var("NODE_NAME").unwrap_or_else(|| "node".to_owned()),
        adapter: var("ADAPTER").unwrap_or_else(|| "classic".to_owned()),
        key: std::env::var("KEY").unwrap_or_default(),
        redis_url: var("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned()),
    })
}

/// `{ error: null | string, <field>: [...] }`, the answers' shape in the contract.
fn answer(error: Option<String>, field: &str, items: Vec<Value>) -> Value {
    let mut map = socketio::Map::new();
    map.insert("error".into(), error.map(Value::from).unwrap_or_default());
    map.insert(field.into(), Value::Array(items));
    Value::Object(map)
}

fn first(args: &socketio::Args) -> Value {
    args.get::<Value>(0).unwrap_or_default()
}

fn on_connection(io: &SocketIo, socket: &Socket, node: &str) {
    let _ = socket.set_data(&json!({ "node": node }));
    socket.on("join", |socket: Socket, event: Event| async move {
        if let Ok(room) = event.arg::<String>(0) {
            socket.join(room);
        }
        let _ = event.ack(&());
    });
    socket.on("leave", |socket: Socket, event: Event| async move {
        if let Ok(room) = event.arg::<String>(0) {
            socket.leave(&room);
        }
        let _ = event.ack(&());
    });
    let server = io.clone();
    socket.on("to_room", move |_socket: Socket, event: Event| {
        let io = server.clone();
        async move {
            if let Ok(room) = event.arg::<String>(0) {
                let _ = io.to(room).emit_raw("msg", &event.raw_args().skip(1));
            }
            let _ = event.ack(&());
        }
    });
    let server = io.clone();
    socket.on("broadcast", move |_socket: Socket, event: Event| {
        let io = server.clone();
        async move {
            let _ = io.emit_raw("msg", event.raw_args());
            let _ = event.ack(&());
        }
    });
    let server = io.clone();
    socket.on("to_room_with_acks", move |_socket: Socket, event: Event| {
        let io = server.clone();
        async move {
            let room = event.arg::<String>(0).unwrap_or_default();
            let payload = event.arg::<Value>(1).unwrap_or_default();
            let result = io
                .to(room)
                .timeout(Duration::from_secs(2))
                .emit_with_ack_raw("ping_ack", &(payload,))
                .await;
            let reply = match result {
                Ok(responses) => answer(None, "responses", responses.iter().map(first).collect()),
                Err(BroadcastAckError::Timeout { responses, .. }) => answer(
                    Some("operation has timed out".into()),
                    "responses",
                    responses.iter().map(first).collect(),
                ),
                Err(error) => answer(Some(error.to_string()), "responses", Vec::new()),
            };
            let _ = event.ack(&reply);
        }
    });
    let server = io.clone();
    socket.on("fetch", move |_socket: Socket, event: Event| {
        let io = server.clone();
        async move {
            let room = event.arg::<String>(0).unwrap_or_default();
            let describe = |sockets: Vec<socketio::RemoteSocket>| -> Vec<Value> {
                sockets
                    .iter()
                    .map(|s| {
                        let node = s
                            .data::<Value>()
                            .and_then(|d| d.get("node").cloned())
                            .unwrap_or_default();
                        Value::from_serialize(&json!({
                            "id": s.id().as_str(),
                            "node": serde_json::to_value(&node).unwrap_or_default(),
                            "rooms": s.rooms(),
                        }))
                        .unwrap_or_default()
                    })
                    .collect()
            };
            let reply = match io.within(room).try_fetch_sockets().await {
                Ok(sockets) => answer(None, "sockets", describe(sockets)),
                Err((local, error)) => answer(Some(error.to_string()), "sockets", describe(local)),
            };
            let _ = event.ack(&reply);
        }
    });
    let server = io.clone();
    socket.on("server_side_emit", move |_socket: Socket, event: Event| {
        let io = server.clone();
        async move {
            let payload = event.arg::<Value>(0).unwrap_or_default();
            let result = tokio::time::timeout(
                Duration::from_secs(8),
                io.server_side_emit("hello", &(payload,)),
            )
            .await;
            let reply = match result {
                Ok(Ok(answers)) => answer(None, "responses", answers.iter().map(first).collect()),
                Ok(Err(error)) => {
                    let partial = match RedisAdapterError::of(&error) {
                        Some(RedisAdapterError::Timeout { responses, .. }) => {
                            responses.iter().map(first).collect()
                        }
                        _ => Vec::new(),
                    };
                    answer(Some(error.to_string()), "responses", partial)
                }
                Err(_) => answer(Some("no answer within 8 s".into()), "responses", Vec::new()),
            };
            let _ = event.ack(&reply);
        }
    });
    let server = io.clone();
    socket.on("sockets_join", move |_socket: Socket, event: Event| {
        let io = server.clone();
        async move {
            let room = event.arg::<String>(0).unwrap_or_default();
            let target = event.arg::<String>(1).unwrap_or_default();
            io.within(room).sockets_join(target);
            let _ = event.ack(&());
        }
    });
    let server = io.clone();
    socket.on("disconnect_room", move |_socket: Socket, event: Event| {
        let io = server.clone();
        async move {
            let room = event.arg::<String>(0).unwrap_or_default();
            io.within(room).disconnect_sockets(false);
            let _ = event.ack(&());
        }
    });
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let config = config()?;
    // Not in the contract: the nodes of a Redis Cluster, for the tests that run one.
    let redis = match std::env::var("REDIS_CLUSTER")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(nodes) => RedisPubSub::connect_cluster(&nodes.split(',').collect::<Vec<_>>()).await?,
        None => RedisPubSub::connect(&config.redis_url).await?,
    };
    let key = |default: &str| {
        if config.key.is_empty() {
            default.to_owned()
        } else {
            config.key.clone()
        }
    };
    let adapter = match config.adapter.as_str() {
        "classic" => RedisAdapter::classic(redis, key("socket.io")),
        "sharded" => RedisAdapter::sharded(redis, key("socket.io"), SubscriptionMode::Dynamic),
        "streams" => RedisAdapter::streams(
            redis,
            StreamsOptions {
                stream_name: key("socket.io"),
                channel_prefix: key("socket.io"),
                session_key_prefix: if config.key.is_empty() {
                    "sio:session:".to_owned()
                } else {
                    format!("{}:session:", config.key)
                },
                ..StreamsOptions::default()
            },
        ),
        other => {
            return Err(
                format!("ADAPTER {other}: not supported (classic, sharded or streams)").into(),
            );
        }
    };
    let mut builder = SocketIo::builder().adapter(adapter.factory());
    if config.adapter == "streams" {
        builder = builder.connection_state_recovery(ConnectionStateRecovery {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            ..ConnectionStateRecovery::default()
        });
    }
    let io = builder.build()?;
    let node = config.node.clone();
    io.of("/").on_server_side("hello", move |_args| {
        Some(socketio::Args::from_values(vec![Value::from(
            node.as_str(),
        )]))
    });
    let server = io.clone();
    let node = config.node.clone();
    io.on_connection(move |socket: Socket| {
        on_connection(&server, &socket, &node);
        async {}
    });
    adapter.ready().await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    let mut stderr = std::io::stderr().lock();
    writeln!(
        stderr,
        "{} listening on {}",
        config.node,
        listener.local_addr()?
    )?;
    drop(stderr);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = socketio::serve(listener, io.clone()) => result?,
        _ = terminate.recv() => io.close(Duration::from_millis(500)).await,
        _ = tokio::signal::ctrl_c() => io.close(Duration::from_millis(500)).await,
    }
    // The sessions of the clients let go are kept for their recovery elsewhere.
    adapter.flush().await;
    Ok(())
}
