//! The classic format of `@socket.io/redis-adapter` 8.x (`createAdapter`) and of
//! `@socket.io/redis-emitter`: broadcasts as msgpack `[uid, packet, opts]` on
//! `P#nsp#` (or `P#nsp#room#` for exactly one room), requests on `P-request#nsp#` and
//! responses on `P-response#nsp#`, JSON unless they hold binary data (or are a broadcast
//! with acknowledgements or one of its acknowledgements, which Node sends as msgpack).

use socketio::Value;

use super::value::{
    decode_any, object, opts_from_value, opts_to_value, rooms_to_value, str_field, string_array,
    strings, to_json, to_msgpack, u64_field,
};
use super::{Codec, CountChannel, EventData, Incoming, Request, Response};
use crate::pubsub::{Publish, Subscription};

// Node's `RequestType`.
const SOCKETS: u64 = 0;
const ALL_ROOMS: u64 = 1;
const REMOTE_JOIN: u64 = 2;
const REMOTE_LEAVE: u64 = 3;
const REMOTE_DISCONNECT: u64 = 4;
const REMOTE_FETCH: u64 = 5;
const SERVER_SIDE_EMIT: u64 = 6;
const BROADCAST: u64 = 7;
const BROADCAST_CLIENT_COUNT: u64 = 8;
const BROADCAST_ACK: u64 = 9;

/// The classic format for one namespace.
#[derive(Debug)]
pub(crate) struct ClassicCodec {
    uid: String,
    nsp: String,
    channel: String,
    request_channel: String,
    response_channel: String,
    specific_response_channel: String,
}

impl ClassicCodec {
    /// `key` is the adapter's `key` option (`socket.io` by default).
    pub(crate) fn new(key: &str, nsp: &str, uid: &str) -> Self {
        let response_channel = format!("{key}-response#{nsp}#");
        ClassicCodec {
            uid: uid.to_owned(),
            nsp: nsp.to_owned(),
            channel: format!("{key}#{nsp}#"),
            request_channel: format!("{key}-request#{nsp}#"),
            specific_response_channel: format!("{response_channel}{uid}#"),
            response_channel,
        }
    }

    /// The channel of a broadcast to `rooms`.
    pub(crate) fn broadcast_channel(&self, rooms: &[String]) -> String {
        match rooms {
            [room] => format!("{}{room}#", self.channel),
            _ => self.channel.clone(),
        }
    }

    /// Node's `packet`: `{type: 2, data, nsp}`.
    fn packet(&self, data: &EventData) -> Value {
        object([
            ("type", Value::from(2u64)),
            ("data", data.to_value()),
            ("nsp", Value::from(self.nsp.as_str())),
        ])
    }

    fn publish(&self, channel: &str, payload: Vec<u8>) -> Publish {
        Publish {
            shard: false,
            channel: channel.to_owned(),
            payload,
        }
    }

    /// JSON, or msgpack when binary data is inside (Node decodes either).
    fn json_or_msgpack(value: &Value) -> Vec<u8> {
        if value.has_binary() {
            to_msgpack(value)
        } else {
            to_json(value)
        }
    }

    fn decode_broadcast(&self, payload: &[u8]) -> Option<Incoming> {
        let value: Value = rmp_serde::from_slice(payload).ok()?;
        let items = value.as_array()?;
        let uid = items.first()?.as_str()?.to_owned();
        let packet = items.get(1)?;
        if str_field(packet, "nsp").unwrap_or("/") != self.nsp {
            return None;
        }
        let data = event_of(packet)?;
        let opts = opts_from_value(items.get(2));
        Some(Incoming::Request {
            uid,
            request: Request::Broadcast { data, opts },
        })
    }

    fn decode_request(&self, payload: &[u8]) -> Option<Incoming> {
        let value = decode_any(payload)?;
        let uid = str_field(&value, "uid").unwrap_or_default().to_owned();
        let request_id = || str_field(&value, "requestId").map(str::to_owned);
        let opts = || opts_from_value(value.get("opts"));
        let request = match u64_field(&value, "type")? {
            SOCKETS => Request::SocketIds {
                request_id: request_id()?,
                rooms: strings(value.get("rooms")),
            },
            ALL_ROOMS => Request::AllRooms {
                request_id: request_id()?,
            },
            // The `{sid, room}` form of older adapters is not sent by 8.x nor the emitter.
            REMOTE_JOIN if value.get("opts").is_some() => Request::SocketsJoin {
                opts: opts(),
                rooms: strings(value.get("rooms")),
            },
            REMOTE_LEAVE if value.get("opts").is_some() => Request::SocketsLeave {
                opts: opts(),
                rooms: strings(value.get("rooms")),
            },
            REMOTE_DISCONNECT if value.get("opts").is_some() => Request::DisconnectSockets {
                opts: opts(),
                close: matches!(value.get("close"), Some(Value::Bool(true))),
            },
            REMOTE_FETCH => Request::FetchSockets {
                request_id: request_id()?,
                opts: opts(),
            },
            SERVER_SIDE_EMIT => Request::ServerSideEmit {
                request_id: request_id(),
                data: EventData::from_value(value.get("data")?)?,
            },
            BROADCAST => {
                let packet = value.get("packet")?;
                Request::BroadcastWithAck {
                    request_id: request_id()?,
                    data: event_of(packet)?,
                    opts: opts(),
                }
            }
            _ => return None,
        };
        Some(Incoming::Request { uid, request })
    }

    fn decode_response(payload: &[u8]) -> Option<Incoming> {
        let value = decode_any(payload)?;
        let request_id = str_field(&value, "requestId")?.to_owned();
        let response = match u64_field(&value, "type") {
            Some(SERVER_SIDE_EMIT) => Response::ServerSideEmit {
                request_id,
                answer: value.get("data").cloned().unwrap_or_default(),
            },
            Some(BROADCAST_CLIENT_COUNT) => Response::ClientCount {
                request_id,
                count: u64_field(&value, "clientCount")?,
            },
            Some(BROADCAST_ACK) => Response::Ack {
                request_id,
                answer: value.get("packet").cloned().unwrap_or_default(),
            },
            _ => {
                if let Some(Value::Array(sockets)) = value.get("sockets") {
                    Response::FetchSockets {
                        request_id,
                        sockets: sockets.clone(),
                    }
                } else if value.get("rooms").is_some() {
                    Response::Rooms {
                        request_id,
                        rooms: strings(value.get("rooms")),
                    }
                } else {
                    return None;
                }
            }
        };
        Some(Incoming::Response(response))
    }
}

/// `packet.data` of an event packet (type 2, or 5 for a binary event).
pub(crate) fn event_of(packet: &Value) -> Option<EventData> {
    match u64_field(packet, "type") {
        Some(2 | 5) | None => EventData::from_value(packet.get("data")?),
        _ => None,
    }
}

impl Codec for ClassicCodec {
    fn subscriptions(&self) -> Vec<Subscription> {
        vec![
            Subscription::Pattern(format!("{}*", self.channel)),
            Subscription::Channel(self.request_channel.clone()),
            Subscription::Channel(self.response_channel.clone()),
            Subscription::Channel(self.specific_response_channel.clone()),
        ]
    }

    fn encode_request(&self, request: &Request) -> Publish {
        let uid = || Value::from(self.uid.as_str());
        match request {
            Request::Broadcast { data, opts } => {
                let message = Value::Array(vec![uid(), self.packet(data), opts_to_value(opts)]);
                self.publish(&self.broadcast_channel(&opts.rooms), to_msgpack(&message))
            }
            Request::BroadcastWithAck {
                request_id,
                data,
                opts,
            } => {
                let message = object([
                    ("uid", uid()),
                    ("requestId", Value::from(request_id.as_str())),
                    ("type", Value::from(BROADCAST)),
                    ("packet", self.packet(data)),
                    ("opts", opts_to_value(opts)),
                ]);
                self.publish(&self.request_channel, to_msgpack(&message))
            }
            Request::SocketsJoin { opts, rooms } | Request::SocketsLeave { opts, rooms } => {
                let kind = if matches!(request, Request::SocketsJoin { .. }) {
                    REMOTE_JOIN
                } else {
                    REMOTE_LEAVE
                };
                let message = object([
                    ("uid", uid()),
                    ("type", Value::from(kind)),
                    ("opts", rooms_to_value(opts)),
                    ("rooms", string_array(rooms)),
                ]);
                self.publish(&self.request_channel, to_json(&message))
            }
            Request::DisconnectSockets { opts, close } => {
                let message = object([
                    ("uid", uid()),
                    ("type", Value::from(REMOTE_DISCONNECT)),
                    ("opts", rooms_to_value(opts)),
                    ("close", Value::Bool(*close)),
                ]);
                self.publish(&self.request_channel, to_json(&message))
            }
            Request::FetchSockets { request_id, opts } => {
                let message = object([
                    ("uid", uid()),
                    ("requestId", Value::from(request_id.as_str())),
                    ("type", Value::from(REMOTE_FETCH)),
                    ("opts", rooms_to_value(opts)),
                ]);
                self.publish(&self.request_channel, to_json(&message))
            }
            Request::ServerSideEmit { request_id, data } => {
                let mut message = object([("uid", uid())]);
                if let (Some(id), Value::Object(map)) = (request_id, &mut message) {
                    map.insert("requestId".to_owned(), Value::from(id.as_str()));
                }
                if let Value::Object(map) = &mut message {
                    map.insert("type".to_owned(), Value::from(SERVER_SIDE_EMIT));
                    map.insert("data".to_owned(), data.to_value());
                }
                self.publish(&self.request_channel, Self::json_or_msgpack(&message))
            }
            Request::SocketIds { request_id, rooms } => {
                let message = object([
                    ("uid", uid()),
                    ("requestId", Value::from(request_id.as_str())),
                    ("type", Value::from(SOCKETS)),
                    ("rooms", string_array(rooms)),
                ]);
                self.publish(&self.request_channel, to_json(&message))
            }
            Request::AllRooms { request_id } => {
                let message = object([
                    ("uid", uid()),
                    ("requestId", Value::from(request_id.as_str())),
                    ("type", Value::from(ALL_ROOMS)),
                ]);
                self.publish(&self.request_channel, to_json(&message))
            }
        }
    }

    fn encode_response(&self, _requester: &str, response: &Response) -> Publish {
        // Node publishes on the shared response channel unless
        // `publishOnSpecificResponseChannel` is set; every node listens on both.
        let payload = match response {
            Response::FetchSockets {
                request_id,
                sockets,
            } => Self::json_or_msgpack(&object([
                ("requestId", Value::from(request_id.as_str())),
                ("sockets", Value::Array(sockets.clone())),
            ])),
            Response::ServerSideEmit { request_id, answer } => Self::json_or_msgpack(&object([
                ("type", Value::from(SERVER_SIDE_EMIT)),
                ("requestId", Value::from(request_id.as_str())),
                ("data", answer.clone()),
            ])),
            Response::ClientCount { request_id, count } => to_json(&object([
                ("type", Value::from(BROADCAST_CLIENT_COUNT)),
                ("requestId", Value::from(request_id.as_str())),
                ("clientCount", Value::from(*count)),
            ])),
            Response::Ack { request_id, answer } => to_msgpack(&object([
                ("type", Value::from(BROADCAST_ACK)),
                ("requestId", Value::from(request_id.as_str())),
                ("packet", answer.clone()),
            ])),
            Response::SocketIds { request_id, ids } => to_json(&object([
                ("requestId", Value::from(request_id.as_str())),
                ("sockets", string_array(ids)),
            ])),
            Response::Rooms { request_id, rooms } => to_json(&object([
                ("requestId", Value::from(request_id.as_str())),
                ("rooms", string_array(rooms)),
            ])),
        };
        self.publish(&self.response_channel, payload)
    }

    fn decode(&self, channel: &str, payload: &[u8]) -> Option<Incoming> {
        if channel.starts_with(&self.response_channel) {
            Self::decode_response(payload)
        } else if channel == self.request_channel {
            self.decode_request(payload)
        } else if channel.starts_with(&self.channel) {
            self.decode_broadcast(payload)
        } else {
            None
        }
    }

    fn count_channel(&self) -> CountChannel {
        CountChannel {
            shard: false,
            channel: self.request_channel.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Opts;

    fn codec() -> ClassicCodec {
        ClassicCodec::new("k", "/", "abc123")
    }

    #[test]
    fn broadcasts_round_trip_and_use_the_room_channel_for_one_room() {
        let request = Request::Broadcast {
            data: EventData {
                event: "msg".into(),
                args: vec![Value::from("x"), Value::Binary(vec![1u8, 2].into())],
            },
            opts: Opts {
                rooms: vec!["r".into()],
                except: vec!["e".into()],
                volatile: true,
                timeout_ms: None,
            },
        };
        let publish = codec().encode_request(&request);
        assert_eq!(publish.channel, "k#/#r#");
        let decoded =
            ClassicCodec::new("k", "/", "other").decode(&publish.channel, &publish.payload);
        assert_eq!(
            decoded,
            Some(Incoming::Request {
                uid: "abc123".into(),
                request
            })
        );
    }

    #[test]
    fn requests_and_responses_round_trip() {
        let codec = codec();
        let requests = [
            Request::FetchSockets {
                request_id: "r1".into(),
                opts: Opts {
                    rooms: vec!["a".into(), "b".into()],
                    ..Opts::default()
                },
            },
            Request::SocketsJoin {
                opts: Opts::default(),
                rooms: vec!["x".into()],
            },
            Request::DisconnectSockets {
                opts: Opts::default(),
                close: true,
            },
            Request::ServerSideEmit {
                request_id: None,
                data: EventData {
                    event: "hello".into(),
                    args: vec![Value::Binary(vec![0u8].into())],
                },
            },
        ];
        for request in requests {
            let publish = codec.encode_request(&request);
            assert_eq!(publish.channel, "k-request#/#");
            let decoded = codec.decode(&publish.channel, &publish.payload);
            assert_eq!(
                decoded,
                Some(Incoming::Request {
                    uid: "abc123".into(),
                    request
                })
            );
        }
        let responses = [
            Response::ClientCount {
                request_id: "q".into(),
                count: 3,
            },
            Response::Ack {
                request_id: "q".into(),
                answer: Value::Binary(vec![9u8].into()),
            },
            Response::ServerSideEmit {
                request_id: "q".into(),
                answer: Value::from("node-A"),
            },
            Response::FetchSockets {
                request_id: "q".into(),
                sockets: vec![object([("id", Value::from("s"))])],
            },
        ];
        for response in responses {
            let publish = codec.encode_response("someone", &response);
            assert_eq!(publish.channel, "k-response#/#");
            assert_eq!(
                codec.decode(&publish.channel, &publish.payload),
                Some(Incoming::Response(response))
            );
        }
    }

    #[test]
    fn garbage_and_other_namespaces_are_ignored() {
        let codec = codec();
        assert_eq!(codec.decode("k-request#/#", b"{not json"), None);
        assert_eq!(codec.decode("k#/#", &[0xc1, 0xff]), None);
        assert_eq!(codec.decode("elsewhere", b"{}"), None);
        let other = ClassicCodec::new("k", "/admin", "u");
        let publish = other.encode_request(&Request::Broadcast {
            data: EventData {
                event: "e".into(),
                args: vec![],
            },
            opts: Opts::default(),
        });
        assert_eq!(codec.decode("k#/#", &publish.payload), None);
    }
}
