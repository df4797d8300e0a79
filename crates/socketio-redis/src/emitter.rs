//! [`Emitter`]: emit to a cluster's clients from any Rust process, without a server,
//! as `@socket.io/redis-emitter` does (the classic adapter's format, uid `"emitter"`).

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use socketio::{Args, ArgsError, IntoRooms};

use crate::error::RedisAdapterError;
use crate::link::Link;
use crate::pubsub::PubSub;
use crate::redis_pubsub::RedisPubSub;
use crate::streams::StreamsOptions;
use crate::wire::classic::ClassicCodec;
use crate::wire::cluster::ClusterCodec;
use crate::wire::streams::StreamsCodec;
use crate::wire::{Codec, EventData, Opts, Request, SubscriptionMode};

/// The uid the official emitter publishes with (servers of every kind accept it).
const UID: &str = "emitter";

/// An emit that was not sent.
#[derive(Debug)]
#[non_exhaustive]
pub enum EmitterError {
    /// A name Socket.IO keeps for itself.
    ReservedEvent(String),
    /// The arguments do not serialise.
    Args(ArgsError),
    /// Redis did not take it.
    Redis(RedisAdapterError),
}

impl fmt::Display for EmitterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitterError::ReservedEvent(name) => write!(f, "\"{name}\" is a reserved event name"),
            EmitterError::Args(error) => fmt::Display::fmt(error, f),
            EmitterError::Redis(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl std::error::Error for EmitterError {}

impl From<RedisAdapterError> for EmitterError {
    fn from(error: RedisAdapterError) -> Self {
        EmitterError::Redis(error)
    }
}

/// The servers' format.
#[derive(Clone)]
enum Format {
    Classic,
    Sharded(SubscriptionMode),
    Streams(RedisPubSub, Arc<StreamsOptions>),
}

impl fmt::Debug for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Classic => f.write_str("Classic"),
            Format::Sharded(mode) => write!(f, "Sharded({mode:?})"),
            Format::Streams(_, options) => write!(f, "Streams({:?})", options.stream_name),
        }
    }
}

/// Emits to the clients of a cluster whose servers use the classic adapter (Node's
/// `createAdapter`, or [`RedisAdapter::classic`](crate::RedisAdapter::classic)) with the
/// same `key`, or ([`Emitter::sharded`]) the sharded one, which the official emitter
/// cannot reach. Cheap to clone; [`of`](Self::of), [`to`](Self::to),
/// [`except`](Self::except) and [`volatile`](Self::volatile) make refined copies.
#[derive(Clone)]
pub struct Emitter {
    link: Arc<Link>,
    key: Arc<str>,
    format: Format,
    nsp: String,
    opts: Opts,
}

impl fmt::Debug for Emitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter")
            .field("key", &self.key)
            .field("format", &self.format)
            .field("nsp", &self.nsp)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Emitter {
    /// An emitter for namespace `/`; `key` is the servers' adapter `key` (`"socket.io"`
    /// by default). Create it inside a Tokio runtime.
    pub fn new(pubsub: impl PubSub, key: impl Into<String>) -> Self {
        Emitter::with_format(pubsub, key.into(), Format::Classic)
    }

    /// An emitter for servers that use the sharded adapter with this `channel_prefix`
    /// and subscription mode (Node's `createShardedAdapter`, or
    /// [`RedisAdapter::sharded`](crate::RedisAdapter::sharded)).
    pub fn sharded(
        pubsub: impl PubSub,
        channel_prefix: impl Into<String>,
        mode: SubscriptionMode,
    ) -> Self {
        Emitter::with_format(pubsub, channel_prefix.into(), Format::Sharded(mode))
    }

    /// An emitter for servers that use the streams adapter with these options (Node's
    /// `@socket.io/redis-streams-adapter`, or
    /// [`RedisAdapter::streams`](crate::RedisAdapter::streams)), which no official emitter
    /// reaches: broadcasts are appended to the stream, so clients that recover get them
    /// too.
    pub fn streams(redis: RedisPubSub, options: StreamsOptions) -> Self {
        let key = options.channel_prefix.clone();
        let format = Format::Streams(redis.clone(), Arc::new(options));
        Emitter::with_format(redis, key, format)
    }

    fn with_format(pubsub: impl PubSub, key: String, format: Format) -> Self {
        Emitter {
            link: Link::start(Arc::new(pubsub)),
            key: key.into(),
            format,
            nsp: "/".to_owned(),
            opts: Opts::default(),
        }
    }

    /// The same emitter for another namespace (a leading `/` added if missing).
    pub fn of(&self, nsp: &str) -> Self {
        let nsp = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        Emitter {
            nsp,
            opts: Opts::default(),
            ..self.clone()
        }
    }

    /// Only the sockets in these rooms (their union).
    pub fn to(&self, rooms: impl IntoRooms) -> Self {
        let mut emitter = self.clone();
        emitter.opts.rooms.extend(rooms.into_rooms());
        emitter
    }

    /// Leaves out the sockets in these rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> Self {
        let mut emitter = self.clone();
        emitter.opts.except.extend(rooms.into_rooms());
        emitter
    }

    /// Dropped for clients that cannot take it at once.
    pub fn volatile(&self) -> Self {
        let mut emitter = self.clone();
        emitter.opts.volatile = true;
        emitter
    }

    fn codec(&self) -> Box<dyn Codec> {
        match &self.format {
            Format::Classic => Box::new(ClassicCodec::new(&self.key, &self.nsp, UID)),
            Format::Sharded(mode) => Box::new(ClusterCodec::new(&self.key, &self.nsp, UID, *mode)),
            Format::Streams(..) => Box::new(StreamsCodec::new(&self.key, &self.nsp, UID)),
        }
    }

    async fn send(&self, what: &'static str, request: Request) -> Result<(), EmitterError> {
        let codec = self.codec();
        if let Format::Streams(redis, options) = &self.format
            && let Some(fields) = codec.entry(&request)
        {
            if !redis.is_connected() {
                return Err(self.link.refuse(what, "Redis is unreachable").into());
            }
            let append = crate::streams::xadd(options, fields);
            return redis
                .commands()
                .run_all(vec![append])
                .await
                .map_err(|error| {
                    RedisAdapterError::Publish {
                        operation: what,
                        reason: error.to_string(),
                    }
                    .into()
                });
        }
        let publish = codec.encode_request(&request);
        Ok(self.link.send_and_wait(what, publish).await?)
    }

    fn event<T: Serialize + ?Sized>(event: &str, args: &T) -> Result<EventData, EmitterError> {
        if socketio_proto::is_reserved_event(event) {
            return Err(EmitterError::ReservedEvent(event.to_owned()));
        }
        let args = Args::from_serialize(args)
            .and_then(|args| args.to_values())
            .map_err(EmitterError::Args)?;
        Ok(EventData {
            event: event.to_owned(),
            args,
        })
    }

    /// Emits `event`; `args` is spread as by `Socket::emit` (a tuple gives one argument
    /// per element; `bytes::Bytes` inside travels as binary). Returns once Redis took it.
    pub async fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<(), EmitterError> {
        let data = Self::event(event, args)?;
        let opts = self.opts.clone();
        self.send("emit", Request::Broadcast { data, opts }).await
    }

    /// Emits `event` with arguments as they are (a relay's, or a publish API's).
    pub async fn emit_args(&self, event: &str, args: &Args) -> Result<(), EmitterError> {
        if socketio_proto::is_reserved_event(event) {
            return Err(EmitterError::ReservedEvent(event.to_owned()));
        }
        let args = args.to_values().map_err(EmitterError::Args)?;
        let data = EventData {
            event: event.to_owned(),
            args,
        };
        let opts = self.opts.clone();
        self.send("emit", Request::Broadcast { data, opts }).await
    }

    /// Puts the targeted sockets in these rooms.
    pub async fn sockets_join(&self, rooms: impl IntoRooms) -> Result<(), EmitterError> {
        let request = Request::SocketsJoin {
            opts: self.opts.clone(),
            rooms: rooms.into_rooms(),
        };
        self.send("sockets_join", request).await
    }

    /// Takes the targeted sockets out of these rooms.
    pub async fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<(), EmitterError> {
        let request = Request::SocketsLeave {
            opts: self.opts.clone(),
            rooms: rooms.into_rooms(),
        };
        self.send("sockets_leave", request).await
    }

    /// Disconnects the targeted sockets (closing their connections with `close`).
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), EmitterError> {
        let request = Request::DisconnectSockets {
            opts: self.opts.clone(),
            close,
        };
        self.send("disconnect_sockets", request).await
    }

    /// Emits to the servers' `on_server_side` handlers (no answers: the official emitter
    /// has none either).
    pub async fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<(), EmitterError> {
        let data = Self::event(event, args)?;
        let request = Request::ServerSideEmit {
            request_id: None,
            data,
        };
        self.send("server_side_emit", request).await
    }
}
