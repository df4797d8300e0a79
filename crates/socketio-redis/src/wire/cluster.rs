//! The message format of Node's `ClusterAdapter` (`socket.io-adapter`), which
//! `createShardedAdapter` of `@socket.io/redis-adapter` publishes with `SPUBLISH`:
//! `{type, data, uid, nsp}` as JSON text, or msgpack of the whole message when it may
//! carry binary data and does. Requests go to `P#nsp#` (a broadcast without
//! acknowledgements to one room to `P#nsp#room#` in the dynamic modes), responses to
//! `P#nsp#<requester uid>#`.

use socketio::Value;

use super::value::{
    decode_any, object, opts_from_value, opts_to_value, str_field, string_array, strings, to_json,
    to_msgpack, u64_field,
};
use super::{Codec, CountChannel, EventData, Incoming, Request, Response};
use crate::pubsub::{Publish, Subscription};

// Node's `MessageType`.
const BROADCAST: u64 = 3;
const SOCKETS_JOIN: u64 = 4;
const SOCKETS_LEAVE: u64 = 5;
const DISCONNECT_SOCKETS: u64 = 6;
const FETCH_SOCKETS: u64 = 7;
const FETCH_SOCKETS_RESPONSE: u64 = 8;
const SERVER_SIDE_EMIT: u64 = 9;
const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
const BROADCAST_CLIENT_COUNT: u64 = 11;
const BROADCAST_ACK: u64 = 12;

/// Which rooms get a shard channel of their own (`subscriptionMode` of
/// `createShardedAdapter`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SubscriptionMode {
    /// Two channels per namespace, whatever the rooms.
    Static,
    /// A channel per public room (not a socket's own room) while it has local sockets:
    /// Node's default.
    #[default]
    Dynamic,
    /// A channel per room, sockets' own rooms included.
    DynamicPrivate,
}

/// The `ClusterAdapter` format for one namespace.
#[derive(Debug)]
pub(crate) struct ClusterCodec {
    uid: String,
    nsp: String,
    channel: String,
    response_channel: String,
    mode: SubscriptionMode,
}

impl ClusterCodec {
    /// `prefix` is the adapter's `channelPrefix` (`socket.io` by default).
    pub(crate) fn new(prefix: &str, nsp: &str, uid: &str, mode: SubscriptionMode) -> Self {
        let channel = format!("{prefix}#{nsp}#");
        ClusterCodec {
            uid: uid.to_owned(),
            nsp: nsp.to_owned(),
            response_channel: format!("{channel}{uid}#"),
            channel,
            mode,
        }
    }

    fn room_channel(&self, room: &str) -> String {
        format!("{}{room}#", self.channel)
    }

    /// Node's test of the rooms that may be a socket's own room.
    fn looks_like_a_socket_id(room: &str) -> bool {
        room.len() == 20
    }

    pub(crate) fn message(&self, kind: u64, data: Value) -> Value {
        object([
            ("type", Value::from(kind)),
            ("data", data),
            ("uid", Value::from(self.uid.as_str())),
            ("nsp", Value::from(self.nsp.as_str())),
        ])
    }

    /// JSON, unless the message may hold binary data and does.
    fn encode(message: &Value, may_hold_binary: bool) -> Vec<u8> {
        if may_hold_binary && message.get("data").is_some_and(Value::has_binary) {
            to_msgpack(message)
        } else {
            to_json(message)
        }
    }

    fn packet(&self, data: &EventData) -> Value {
        object([
            ("type", Value::from(2u64)),
            ("data", data.to_value()),
            ("nsp", Value::from(self.nsp.as_str())),
        ])
    }

    fn decode_request(value: &Value, kind: u64) -> Option<Request> {
        let data = value.get("data")?;
        let opts = || opts_from_value(data.get("opts"));
        let request_id = || str_field(data, "requestId").map(str::to_owned);
        Some(match kind {
            BROADCAST => {
                let event = super::classic::event_of(data.get("packet")?)?;
                match request_id() {
                    Some(request_id) => Request::BroadcastWithAck {
                        request_id,
                        data: event,
                        opts: opts(),
                    },
                    None => Request::Broadcast {
                        data: event,
                        opts: opts(),
                    },
                }
            }
            SOCKETS_JOIN => Request::SocketsJoin {
                opts: opts(),
                rooms: strings(data.get("rooms")),
            },
            SOCKETS_LEAVE => Request::SocketsLeave {
                opts: opts(),
                rooms: strings(data.get("rooms")),
            },
            DISCONNECT_SOCKETS => Request::DisconnectSockets {
                opts: opts(),
                close: matches!(data.get("close"), Some(Value::Bool(true))),
            },
            FETCH_SOCKETS => Request::FetchSockets {
                request_id: request_id()?,
                opts: opts(),
            },
            SERVER_SIDE_EMIT => Request::ServerSideEmit {
                request_id: request_id(),
                data: EventData::from_value(data.get("packet")?)?,
            },
            _ => return None,
        })
    }

    fn decode_response(value: &Value, kind: u64) -> Option<Response> {
        let data = value.get("data")?;
        let request_id = str_field(data, "requestId")?.to_owned();
        let packet = || data.get("packet").cloned().unwrap_or_default();
        Some(match kind {
            FETCH_SOCKETS_RESPONSE => Response::FetchSockets {
                request_id,
                sockets: data.get("sockets")?.as_array()?.clone(),
            },
            SERVER_SIDE_EMIT_RESPONSE => Response::ServerSideEmit {
                request_id,
                answer: packet(),
            },
            BROADCAST_CLIENT_COUNT => Response::ClientCount {
                request_id,
                count: u64_field(data, "clientCount")?,
            },
            BROADCAST_ACK => Response::Ack {
                request_id,
                answer: packet(),
            },
            _ => return None,
        })
    }
}

impl Codec for ClusterCodec {
    fn subscriptions(&self) -> Vec<Subscription> {
        vec![
            Subscription::Shard(self.channel.clone()),
            Subscription::Shard(self.response_channel.clone()),
        ]
    }

    fn room_subscription(&self, room: &str, is_socket_id: bool) -> Option<Subscription> {
        let own = match self.mode {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !is_socket_id,
            SubscriptionMode::DynamicPrivate => true,
        };
        own.then(|| Subscription::Shard(self.room_channel(room)))
    }

    fn encode_request(&self, request: &Request) -> Publish {
        let (kind, data, may_hold_binary, channel) = self.request_parts(request);
        let message = self.message(kind, data);
        Publish {
            shard: true,
            channel,
            payload: Self::encode(&message, may_hold_binary),
        }
    }

    fn encode_response(&self, requester: &str, response: &Response) -> Publish {
        let (kind, data, may_hold_binary) = Self::response_parts(response);
        let message = self.message(kind, data);
        Publish {
            shard: true,
            channel: self.response_channel_of(requester),
            payload: Self::encode(&message, may_hold_binary),
        }
    }

    fn decode(&self, channel: &str, payload: &[u8]) -> Option<Incoming> {
        if !channel.starts_with(&self.channel) {
            return None;
        }
        self.decode_value(&decode_any(payload)?)
    }

    fn count_channel(&self) -> CountChannel {
        CountChannel {
            shard: true,
            channel: self.channel.clone(),
        }
    }
}

impl ClusterCodec {
    /// The channel of the responses to the server `requester`.
    pub(crate) fn response_channel_of(&self, requester: &str) -> String {
        format!("{}{requester}#", self.channel)
    }

    /// This namespace's channel of requests (`P#nsp#`) and this server's of responses.
    pub(crate) fn channels(&self) -> (&str, &str) {
        (&self.channel, &self.response_channel)
    }

    /// A request as Node's message type, its `data`, whether that may hold binary data,
    /// and the channel it goes to.
    pub(crate) fn request_parts(&self, request: &Request) -> (u64, Value, bool, String) {
        let mut channel = self.channel.clone();
        let (kind, data, may_hold_binary) = match request {
            Request::Broadcast { data, opts } => {
                if let [room] = opts.rooms.as_slice() {
                    let dynamic = match self.mode {
                        SubscriptionMode::Static => false,
                        SubscriptionMode::Dynamic => !Self::looks_like_a_socket_id(room),
                        SubscriptionMode::DynamicPrivate => true,
                    };
                    if dynamic {
                        channel = self.room_channel(room);
                    }
                }
                let body = object([("packet", self.packet(data)), ("opts", opts_to_value(opts))]);
                (BROADCAST, body, true)
            }
            Request::BroadcastWithAck {
                request_id,
                data,
                opts,
            } => {
                let body = object([
                    ("packet", self.packet(data)),
                    ("requestId", Value::from(request_id.as_str())),
                    ("opts", opts_to_value(opts)),
                ]);
                (BROADCAST, body, true)
            }
            Request::SocketsJoin { opts, rooms } => (
                SOCKETS_JOIN,
                object([
                    ("opts", opts_to_value(opts)),
                    ("rooms", string_array(rooms)),
                ]),
                false,
            ),
            Request::SocketsLeave { opts, rooms } => (
                SOCKETS_LEAVE,
                object([
                    ("opts", opts_to_value(opts)),
                    ("rooms", string_array(rooms)),
                ]),
                false,
            ),
            Request::DisconnectSockets { opts, close } => (
                DISCONNECT_SOCKETS,
                object([
                    ("opts", opts_to_value(opts)),
                    ("close", Value::Bool(*close)),
                ]),
                false,
            ),
            Request::FetchSockets { request_id, opts } => (
                FETCH_SOCKETS,
                object([
                    ("opts", opts_to_value(opts)),
                    ("requestId", Value::from(request_id.as_str())),
                ]),
                false,
            ),
            Request::ServerSideEmit { request_id, data } => {
                let body = match request_id {
                    Some(id) => object([
                        ("requestId", Value::from(id.as_str())),
                        ("packet", data.to_value()),
                    ]),
                    None => object([("packet", data.to_value())]),
                };
                (SERVER_SIDE_EMIT, body, true)
            }
            // Classic requests only; this format has no such messages.
            Request::SocketIds { .. } | Request::AllRooms { .. } => (0, Value::Null, false),
        };
        (kind, data, may_hold_binary, channel)
    }

    /// A response as Node's message type, its `data`, and whether that may hold binary.
    pub(crate) fn response_parts(response: &Response) -> (u64, Value, bool) {
        let id = |request_id: &str| Value::from(request_id);
        let (kind, data, may_hold_binary) = match response {
            Response::FetchSockets {
                request_id,
                sockets,
            } => (
                FETCH_SOCKETS_RESPONSE,
                object([
                    ("requestId", id(request_id)),
                    ("sockets", Value::Array(sockets.clone())),
                ]),
                true,
            ),
            Response::ServerSideEmit { request_id, answer } => (
                SERVER_SIDE_EMIT_RESPONSE,
                object([("requestId", id(request_id)), ("packet", answer.clone())]),
                true,
            ),
            Response::ClientCount { request_id, count } => (
                BROADCAST_CLIENT_COUNT,
                object([
                    ("requestId", id(request_id)),
                    ("clientCount", Value::from(*count)),
                ]),
                false,
            ),
            Response::Ack { request_id, answer } => (
                BROADCAST_ACK,
                object([("requestId", id(request_id)), ("packet", answer.clone())]),
                true,
            ),
            Response::SocketIds { .. } | Response::Rooms { .. } => (0, Value::Null, false),
        };
        (kind, data, may_hold_binary)
    }

    /// A whole message, `{type, data, uid, nsp}`; `None` if it is not for this namespace
    /// or not one of Node's.
    pub(crate) fn decode_value(&self, value: &Value) -> Option<Incoming> {
        if str_field(value, "nsp")? != self.nsp {
            return None;
        }
        let kind = u64_field(value, "type")?;
        if let Some(response) = Self::decode_response(value, kind) {
            return Some(Incoming::Response(response));
        }
        let uid = str_field(value, "uid")?.to_owned();
        Some(Incoming::Request {
            uid,
            request: Self::decode_request(value, kind)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Opts;

    #[test]
    fn messages_round_trip_as_json_or_msgpack() {
        let codec = ClusterCodec::new("p", "/", "0123456789abcdef", SubscriptionMode::Dynamic);
        let plain = Request::Broadcast {
            data: EventData {
                event: "msg".into(),
                args: vec![Value::from(1u64)],
            },
            opts: Opts {
                rooms: vec!["room".into()],
                ..Opts::default()
            },
        };
        let publish = codec.encode_request(&plain);
        assert_eq!(publish.channel, "p#/#room#");
        assert_eq!(publish.payload[0], b'{');
        let other = ClusterCodec::new("p", "/", "ffff", SubscriptionMode::Dynamic);
        assert_eq!(
            other.decode(&publish.channel, &publish.payload),
            Some(Incoming::Request {
                uid: "0123456789abcdef".into(),
                request: plain
            })
        );

        let binary = Request::ServerSideEmit {
            request_id: Some("r".into()),
            data: EventData {
                event: "hello".into(),
                args: vec![Value::Binary(vec![1u8].into())],
            },
        };
        let publish = codec.encode_request(&binary);
        assert_eq!(publish.channel, "p#/#");
        assert_ne!(publish.payload[0], b'{');
        assert_eq!(
            other.decode(&publish.channel, &publish.payload),
            Some(Incoming::Request {
                uid: "0123456789abcdef".into(),
                request: binary
            })
        );

        let response = Response::Ack {
            request_id: "r".into(),
            answer: Value::from("id"),
        };
        let publish = codec.encode_response("ffff", &response);
        assert_eq!(publish.channel, "p#/#ffff#");
        assert_eq!(
            other.decode(&publish.channel, &publish.payload),
            Some(Incoming::Response(response))
        );
    }

    #[test]
    fn room_channels_follow_the_subscription_mode() {
        let id_like = "a".repeat(20);
        let dynamic = ClusterCodec::new("p", "/", "u", SubscriptionMode::Dynamic);
        assert!(dynamic.room_subscription("room", false).is_some());
        assert!(dynamic.room_subscription(&id_like, true).is_none());
        let private = ClusterCodec::new("p", "/", "u", SubscriptionMode::DynamicPrivate);
        assert!(private.room_subscription(&id_like, true).is_some());
        let fixed = ClusterCodec::new("p", "/", "u", SubscriptionMode::Static);
        assert!(fixed.room_subscription("room", false).is_none());
        let to_socket = Request::Broadcast {
            data: EventData {
                event: "e".into(),
                args: vec![],
            },
            opts: Opts {
                rooms: vec![id_like],
                ..Opts::default()
            },
        };
        assert_eq!(dynamic.encode_request(&to_socket).channel, "p#/#");
        assert_ne!(private.encode_request(&to_socket).channel, "p#/#");
    }
}
