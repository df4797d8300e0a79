//! What the servers of a cluster tell each other, apart from how it is encoded: the
//! requests and responses of the official Node adapters, decoded into one model that the
//! request/response layer ([`crate::node`]) works on. Each wire format is a module that
//! turns this model into channels and bytes and back: [`classic`] (`createAdapter` of
//! `@socket.io/redis-adapter`) and [`cluster`] (the `ClusterAdapter` format of
//! `createShardedAdapter`).

pub(crate) mod classic;
pub(crate) mod cluster;
pub(crate) mod streams;
mod value;

use socketio::Value;

pub use cluster::SubscriptionMode;
pub(crate) use value::{object, string_array, strings, u64_field};

use crate::pubsub::{Publish, Subscription};

/// Which sockets an operation is for, and how (Node's `BroadcastOptions`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Opts {
    /// Rooms to reach (their union); empty: every socket of the namespace.
    pub(crate) rooms: Vec<String>,
    /// Rooms whose sockets are left out.
    pub(crate) except: Vec<String>,
    /// Node's `flags.volatile`.
    pub(crate) volatile: bool,
    /// Node's `flags.timeout` (broadcasts with acknowledgements).
    pub(crate) timeout_ms: Option<u64>,
}

/// An event as the adapters carry it: Node's `packet.data`, `[event, ...args]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EventData {
    pub(crate) event: String,
    pub(crate) args: Vec<Value>,
}

impl EventData {
    /// `[event, ...args]`.
    pub(crate) fn to_value(&self) -> Value {
        let mut items = Vec::with_capacity(self.args.len() + 1);
        items.push(Value::from(self.event.as_str()));
        items.extend(self.args.iter().cloned());
        Value::Array(items)
    }

    /// From `[event, ...args]` (the event a string).
    pub(crate) fn from_value(value: &Value) -> Option<EventData> {
        let items = value.as_array()?;
        let event = items.first()?.as_str()?.to_owned();
        Some(EventData {
            event,
            args: items[1..].to_vec(),
        })
    }
}

/// An operation one server asks of the others.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Request {
    /// Emit to their sockets.
    Broadcast { data: EventData, opts: Opts },
    /// Emit with an acknowledgement from each socket; answered with a client count, then
    /// each answer.
    BroadcastWithAck {
        request_id: String,
        data: EventData,
        opts: Opts,
    },
    /// `socketsJoin`.
    SocketsJoin { opts: Opts, rooms: Vec<String> },
    /// `socketsLeave`.
    SocketsLeave { opts: Opts, rooms: Vec<String> },
    /// `disconnectSockets`.
    DisconnectSockets { opts: Opts, close: bool },
    /// `fetchSockets`.
    FetchSockets { request_id: String, opts: Opts },
    /// `serverSideEmit`, with an answer wanted when it has a request id.
    ServerSideEmit {
        request_id: Option<String>,
        data: EventData,
    },
    /// The ids of the sockets in these rooms (classic `SOCKETS`, Node's `allSockets`).
    SocketIds {
        request_id: String,
        rooms: Vec<String>,
    },
    /// Every room name (classic `ALL_ROOMS`).
    AllRooms { request_id: String },
}

/// An answer to a request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Response {
    /// The sockets of one server (`{id, handshake, rooms, data}` each).
    FetchSockets {
        request_id: String,
        sockets: Vec<Value>,
    },
    /// One server's answer to `serverSideEmit`.
    ServerSideEmit { request_id: String, answer: Value },
    /// How many of its sockets a broadcast with acknowledgements reached.
    ClientCount { request_id: String, count: u64 },
    /// One socket's acknowledgement (its first argument, as Node forwards it).
    Ack { request_id: String, answer: Value },
    /// Socket ids (classic `SOCKETS`).
    SocketIds {
        request_id: String,
        ids: Vec<String>,
    },
    /// Room names (classic `ALL_ROOMS`).
    Rooms {
        request_id: String,
        rooms: Vec<String>,
    },
}

impl Response {
    /// The request it answers.
    pub(crate) fn request_id(&self) -> &str {
        match self {
            Response::FetchSockets { request_id, .. }
            | Response::ServerSideEmit { request_id, .. }
            | Response::ClientCount { request_id, .. }
            | Response::Ack { request_id, .. }
            | Response::SocketIds { request_id, .. }
            | Response::Rooms { request_id, .. } => request_id,
        }
    }
}

/// A decoded message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Incoming {
    /// A request from the server `uid` (maybe this one: the caller drops its own).
    Request { uid: String, request: Request },
    /// A response to one of this server's requests.
    Response(Response),
}

/// How to count the servers of a cluster: subscribers of one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CountChannel {
    /// `PUBSUB SHARDNUMSUB` rather than `PUBSUB NUMSUB`.
    pub(crate) shard: bool,
    /// The channel.
    pub(crate) channel: String,
}

/// A wire format, bound to one namespace and one server id.
pub(crate) trait Codec: Send + Sync + 'static {
    /// The subscriptions this namespace needs from the start.
    fn subscriptions(&self) -> Vec<Subscription>;

    /// The subscription a room needs while it has local sockets (sharded dynamic modes).
    fn room_subscription(&self, _room: &str, _is_socket_id: bool) -> Option<Subscription> {
        None
    }

    /// A request to publish.
    fn encode_request(&self, request: &Request) -> Publish;

    /// The stream entry of a request the format appends to a stream rather than
    /// publishes (the streams adapter's durable messages).
    fn entry(&self, _request: &Request) -> Option<streams::Fields> {
        None
    }

    /// Decodes a stream entry; `None` for one that is not for this namespace.
    fn decode_entry(&self, _fields: &[(String, Vec<u8>)]) -> Option<Incoming> {
        None
    }

    /// A response to publish, for the server `requester`.
    fn encode_response(&self, requester: &str, response: &Response) -> Publish;

    /// Decodes a message received on `channel`; `None` for what is not for this
    /// namespace or does not parse.
    fn decode(&self, channel: &str, payload: &[u8]) -> Option<Incoming>;

    /// The channel whose subscribers are the servers of the cluster.
    fn count_channel(&self) -> CountChannel;
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::classic::ClassicCodec;
    use super::cluster::ClusterCodec;
    use super::{Codec, SubscriptionMode};

    proptest! {
        /// Whatever another publisher on the broker sends, decoding returns (a message
        /// or nothing) and never panics.
        #[test]
        fn any_bytes_on_any_channel_decode_without_panicking(
            payload in proptest::collection::vec(any::<u8>(), 0..256),
            json in "\\{[\"a-z:,\\[\\]{}0-9 ]{0,80}",
            channel in prop::sample::select(vec![
                "k#/#", "k#/#room#", "k-request#/#", "k-response#/#", "k-response#/#u#",
                "k#/#u#", "other",
            ]),
        ) {
            let codecs: [Box<dyn Codec>; 2] = [
                Box::new(ClassicCodec::new("k", "/", "u")),
                Box::new(ClusterCodec::new("k", "/", "u", SubscriptionMode::Dynamic)),
            ];
            for codec in &codecs {
                let _ = codec.decode(channel, &payload);
                let _ = codec.decode(channel, json.as_bytes());
            }
        }
    }
}
