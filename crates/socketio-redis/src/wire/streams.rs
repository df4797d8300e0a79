//! The format of `@socket.io/redis-streams-adapter` 0.3: the messages of Node's
//! `ClusterAdapter`, the durable ones (broadcasts without acknowledgements,
//! `socketsJoin`/`socketsLeave`, `disconnectSockets`) appended to a stream as the fields
//! `uid nsp type data` (`data` JSON text, or base64 of msgpack when it holds binary), the
//! ephemeral ones and every response published with `PUBLISH` as msgpack of the whole
//! message, on `P#nsp#` and `P#nsp#<requester uid>#`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use socketio::Value;

use super::cluster::ClusterCodec;
use super::value::{decode_any, to_json, to_msgpack};
use super::{Codec, CountChannel, Incoming, Request, SubscriptionMode};
use crate::pubsub::{Publish, Subscription};

/// The fields of a stream entry, in Node's order.
pub(crate) type Fields = Vec<(&'static str, Vec<u8>)>;

/// The streams adapter's format for one namespace.
#[derive(Debug)]
pub(crate) struct StreamsCodec {
    inner: ClusterCodec,
    uid: String,
    nsp: String,
}

/// Whether Node appends the request to the stream (it is replayed, and read by servers
/// that come back after an outage) rather than publishing it.
fn is_durable(request: &Request) -> bool {
    matches!(
        request,
        Request::Broadcast { .. }
            | Request::SocketsJoin { .. }
            | Request::SocketsLeave { .. }
            | Request::DisconnectSockets { .. }
    )
}

impl StreamsCodec {
    /// `prefix` is the adapter's `channelPrefix` (`socket.io` by default).
    pub(crate) fn new(prefix: &str, nsp: &str, uid: &str) -> Self {
        StreamsCodec {
            inner: ClusterCodec::new(prefix, nsp, uid, SubscriptionMode::Static),
            uid: uid.to_owned(),
            nsp: nsp.to_owned(),
        }
    }

    /// The namespace a stream entry is for (every namespace shares the stream).
    pub(crate) fn namespace_of(fields: &[(String, Vec<u8>)]) -> Option<&str> {
        let (_, nsp) = fields.iter().find(|(name, _)| name == "nsp")?;
        std::str::from_utf8(nsp).ok()
    }
}

impl Codec for StreamsCodec {
    /// The stream entry of a durable request; `None` for one that is published.
    fn entry(&self, request: &Request) -> Option<Fields> {
        if !is_durable(request) {
            return None;
        }
        let (kind, data, may_hold_binary, _) = self.inner.request_parts(request);
        let data = if may_hold_binary && data.has_binary() {
            BASE64.encode(to_msgpack(&data)).into_bytes()
        } else {
            to_json(&data)
        };
        Some(vec![
            ("uid", self.uid.clone().into_bytes()),
            ("nsp", self.nsp.clone().into_bytes()),
            ("type", kind.to_string().into_bytes()),
            ("data", data),
        ])
    }

    /// Decodes a stream entry; `None` for one of another namespace, or not Node's.
    fn decode_entry(&self, fields: &[(String, Vec<u8>)]) -> Option<Incoming> {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(key, _)| key == name)
                .and_then(|(_, value)| std::str::from_utf8(value).ok())
        };
        let kind: u64 = field("type")?.parse().ok()?;
        let data = match field("data") {
            Some(text) if text.starts_with('{') => serde_json::from_str(text).ok()?,
            Some(text) => rmp_serde::from_slice(&BASE64.decode(text).ok()?).ok()?,
            None => Value::Null,
        };
        let message = super::object([
            ("type", Value::from(kind)),
            ("data", data),
            ("uid", Value::from(field("uid")?)),
            ("nsp", Value::from(field("nsp")?)),
        ]);
        self.inner.decode_value(&message)
    }

    fn subscriptions(&self) -> Vec<Subscription> {
        let (requests, responses) = self.inner.channels();
        vec![
            Subscription::Channel(requests.to_owned()),
            Subscription::Channel(responses.to_owned()),
        ]
    }

    fn encode_request(&self, request: &Request) -> Publish {
        let (kind, data, _, _) = self.inner.request_parts(request);
        Publish {
            shard: false,
            channel: self.inner.channels().0.to_owned(),
            payload: to_msgpack(&self.inner.message(kind, data)),
        }
    }

    fn encode_response(&self, requester: &str, response: &super::Response) -> Publish {
        let (kind, data, _) = ClusterCodec::response_parts(response);
        Publish {
            shard: false,
            channel: self.inner.response_channel_of(requester),
            payload: to_msgpack(&self.inner.message(kind, data)),
        }
    }

    fn decode(&self, channel: &str, payload: &[u8]) -> Option<Incoming> {
        if !channel.starts_with(self.inner.channels().0) {
            return None;
        }
        self.inner.decode_value(&decode_any(payload)?)
    }

    fn count_channel(&self) -> CountChannel {
        CountChannel {
            shard: false,
            channel: self.inner.channels().0.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EventData, Opts, Response};

    fn owned(fields: Fields) -> Vec<(String, Vec<u8>)> {
        fields
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }

    #[test]
    fn durable_requests_are_entries_and_the_rest_msgpack_messages() {
        let codec = StreamsCodec::new("p", "/", "0123456789abcdef");
        let other = StreamsCodec::new("p", "/", "fedcba9876543210");
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
        let fields = codec.entry(&plain).expect("a broadcast is durable");
        let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["uid", "nsp", "type", "data"]);
        assert_eq!(fields[2].1, b"3");
        assert_eq!(fields[3].1[0], b'{');
        let fields = owned(fields);
        assert_eq!(StreamsCodec::namespace_of(&fields), Some("/"));
        assert_eq!(
            other.decode_entry(&fields),
            Some(Incoming::Request {
                uid: "0123456789abcdef".into(),
                request: plain,
            })
        );

        let binary = Request::Broadcast {
            data: EventData {
                event: "msg".into(),
                args: vec![Value::Binary(vec![1u8, 2].into())],
            },
            opts: Opts::default(),
        };
        let fields = owned(codec.entry(&binary).unwrap());
        assert_ne!(fields[3].1[0], b'{', "binary goes as base64 msgpack");
        assert_eq!(
            other.decode_entry(&fields),
            Some(Incoming::Request {
                uid: "0123456789abcdef".into(),
                request: binary,
            })
        );

        let fetch = Request::FetchSockets {
            request_id: "r".into(),
            opts: Opts::default(),
        };
        assert!(codec.entry(&fetch).is_none());
        let publish = codec.encode_request(&fetch);
        assert!(!publish.shard);
        assert_eq!(publish.channel, "p#/#");
        assert_ne!(publish.payload[0], b'{', "always msgpack");
        assert_eq!(
            other.decode(&publish.channel, &publish.payload),
            Some(Incoming::Request {
                uid: "0123456789abcdef".into(),
                request: fetch,
            })
        );
        let response = Response::ClientCount {
            request_id: "r".into(),
            count: 2,
        };
        let publish = other.encode_response("0123456789abcdef", &response);
        assert_eq!(publish.channel, "p#/#0123456789abcdef#");
        assert_eq!(
            codec.decode(&publish.channel, &publish.payload),
            Some(Incoming::Response(response))
        );
    }

    #[test]
    fn entries_of_other_namespaces_or_garbage_decode_to_nothing() {
        let codec = StreamsCodec::new("p", "/", "u");
        let entry = |nsp: &str, kind: &str, data: &str| {
            vec![
                ("uid".to_owned(), b"x".to_vec()),
                ("nsp".to_owned(), nsp.as_bytes().to_vec()),
                ("type".to_owned(), kind.as_bytes().to_vec()),
                ("data".to_owned(), data.as_bytes().to_vec()),
            ]
        };
        assert!(codec.decode_entry(&entry("/admin", "3", "{}")).is_none());
        assert!(codec.decode_entry(&entry("/", "x", "{}")).is_none());
        assert!(
            codec
                .decode_entry(&entry("/", "3", "not base64!"))
                .is_none()
        );
        assert!(codec.decode_entry(&[]).is_none());
    }
}
