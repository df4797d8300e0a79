//! The two wire formats a server can speak, behind one interface.

use serde::Serialize;

use crate::args::Args;
use crate::encode::Encoded;
use crate::error::{EncodeError, ParseError};
use crate::json::{self, DecoderLimits, JsonDecoder};
use crate::msgpack::{self, MsgPackDecoder};
use crate::packet::Packet;
use crate::value::{Map, Value};
use engineio_proto::Message;

/// A Socket.IO parser: the default JSON one, or msgpack (npm `socket.io-msgpack-parser`).
/// Every client of a server must use the server's parser.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Parser {
    /// Text packets with JSON data; binary data as separate attachments.
    #[default]
    Json,
    /// One binary msgpack packet per message; binary data inline.
    MsgPack,
}

/// A packet decoder for one connection (it keeps the state of a binary packet waiting for
/// its attachments).
#[derive(Debug)]
pub enum Decoder {
    /// The JSON parser's decoder.
    Json(JsonDecoder),
    /// The msgpack parser's decoder.
    MsgPack(MsgPackDecoder),
}

impl Decoder {
    /// Decodes one Engine.IO message: `Ok(None)` while a binary packet waits for more
    /// attachments.
    pub fn decode(&mut self, message: Message) -> Result<Option<Packet>, ParseError> {
        match self {
            Decoder::Json(decoder) => decoder.decode(message),
            Decoder::MsgPack(decoder) => decoder.decode(message),
        }
    }

    /// Whether a binary packet waits for more attachments.
    pub fn is_waiting_for_attachments(&self) -> bool {
        match self {
            Decoder::Json(decoder) => decoder.is_waiting_for_attachments(),
            Decoder::MsgPack(_) => false,
        }
    }
}

impl Parser {
    /// A decoder for one connection.
    pub fn decoder(self, limits: DecoderLimits) -> Decoder {
        match self {
            Parser::Json => Decoder::Json(JsonDecoder::new(limits)),
            Parser::MsgPack => Decoder::MsgPack(MsgPackDecoder::new(limits)),
        }
    }

    /// The server's answer to a join: `{"sid": …}`, with `"pid"` when connection state
    /// recovery is on.
    pub fn encode_connect(self, nsp: &str, sid: &str, pid: Option<&str>) -> Encoded {
        let mut data = Map::new();
        data.insert("sid".to_owned(), Value::from(sid));
        if let Some(pid) = pid {
            data.insert("pid".to_owned(), Value::from(pid));
        }
        let data = Value::Object(data);
        match self {
            Parser::Json => json::encode::connect(nsp, &data),
            Parser::MsgPack => msgpack::encode::connect(nsp, &data),
        }
    }

    /// A client's request to join `nsp`, with its `auth` payload if it has one (and, with
    /// connection state recovery, the `pid` and `offset` of its last session in it).
    pub fn encode_connect_data(self, nsp: &str, data: Option<&Value>) -> Encoded {
        match self {
            Parser::Json => json::encode::connect_with(nsp, data),
            Parser::MsgPack => msgpack::encode::connect_with(nsp, data),
        }
    }

    /// A refused join: `{"message": …}`, with `"data"` if given.
    pub fn encode_connect_error(self, nsp: &str, message: &str, data: Option<&Value>) -> Encoded {
        let mut map = Map::new();
        map.insert("message".to_owned(), Value::from(message));
        if let Some(data) = data {
            map.insert("data".to_owned(), data.clone());
        }
        let data = Value::Object(map);
        match self {
            Parser::Json => json::encode::connect_error(nsp, &data),
            Parser::MsgPack => msgpack::encode::connect_error(nsp, &data),
        }
    }

    /// The server leaves the client's namespace.
    pub fn encode_disconnect(self, nsp: &str) -> Encoded {
        match self {
            Parser::Json => json::encode::disconnect(nsp),
            Parser::MsgPack => msgpack::encode::disconnect(nsp),
        }
    }

    /// An event with typed arguments: a tuple is spread into one argument per element,
    /// `()` is no argument, any other value is one argument. (A fixed-size array is a tuple
    /// to serde; a `Vec` or a slice is one argument.) Binary data (`serialize_bytes`, as
    /// `bytes::Bytes` does) becomes binary on the wire.
    pub fn encode_event<T: Serialize + ?Sized>(
        self,
        nsp: &str,
        ack: Option<u64>,
        name: &str,
        args: &T,
    ) -> Result<Encoded, EncodeError> {
        match self {
            Parser::Json => json::encode::event(nsp, ack, name, args),
            Parser::MsgPack => msgpack::encode::event(nsp, ack, name, args),
        }
    }

    /// An event whose arguments are re-sent as received (no parse, no re-serialisation when
    /// they came from this parser).
    pub fn encode_event_args(
        self,
        nsp: &str,
        ack: Option<u64>,
        name: &str,
        args: &Args,
    ) -> Result<Encoded, EncodeError> {
        match self {
            Parser::Json => json::encode::event_args(nsp, ack, name, args),
            Parser::MsgPack => msgpack::encode::event_args(nsp, ack, name, args),
        }
    }

    /// The event `encoded` (from this parser) with one more argument after the others, the
    /// string `last`. Connection state recovery appends each packet's offset this way, once
    /// per broadcast. Fails if `encoded` is not an event.
    pub fn with_trailing_str(self, encoded: &Encoded, last: &str) -> Result<Encoded, EncodeError> {
        match self {
            Parser::Json => json::encode::with_trailing_str(encoded, last),
            Parser::MsgPack => msgpack::encode::with_trailing_str(encoded, last),
        }
    }

    /// An answer to the event with id `id`, with typed arguments (spread as for events).
    pub fn encode_ack<T: Serialize + ?Sized>(
        self,
        nsp: &str,
        id: u64,
        args: &T,
    ) -> Result<Encoded, EncodeError> {
        match self {
            Parser::Json => json::encode::ack(nsp, id, args),
            Parser::MsgPack => msgpack::encode::ack(nsp, id, args),
        }
    }

    /// An answer whose arguments are re-sent as received.
    pub fn encode_ack_args(self, nsp: &str, id: u64, args: &Args) -> Result<Encoded, EncodeError> {
        match self {
            Parser::Json => json::encode::ack_args(nsp, id, args),
            Parser::MsgPack => msgpack::encode::ack_args(nsp, id, args),
        }
    }
}
