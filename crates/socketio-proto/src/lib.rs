//! The Socket.IO v5 protocol with no I/O: packets, the default JSON parser with binary
//! attachments, and the msgpack parser, shared by servers and clients.
//!
//! Decoders take Engine.IO messages and give [`Packet`]s; encoders turn packets into the
//! Engine.IO messages to send ([`Encoded`]), once for any number of recipients. Arguments
//! arrive as [`Args`], which keep the received bytes so that they can be sent on without a
//! parse, and deserialise into any `serde` type on demand, binary data included.
//!
//! ```
//! use socketio_proto::{DecoderLimits, Packet, PacketKind, Parser};
//! use engineio_proto::Message;
//!
//! let mut decoder = Parser::Json.decoder(DecoderLimits::default());
//! let packet = decoder.decode(Message::text(r#"212["chat",{"text":"hi"},7]"#))?.unwrap();
//! let PacketKind::Event { name, args, ack } = packet.kind else { unreachable!() };
//! assert_eq!((name.as_str(), ack), ("chat", Some(12)));
//!
//! #[derive(serde::Deserialize)]
//! struct Chat { text: String }
//! let (chat, n): (Chat, u8) = args.deserialize()?;
//! assert_eq!((chat.text.as_str(), n), ("hi", 7));
//!
//! // Answer with the same arguments, unparsed, and emit with typed ones.
//! let ack = Parser::Json.encode_ack_args("/", 12, &args)?;
//! assert_eq!(ack.first(), &Message::text(r#"312[{"text":"hi"},7]"#));
//! let event = Parser::Json.encode_event("/admin", None, "joined", &("ann", 3))?;
//! assert_eq!(event.first(), &Message::text(r#"2/admin,["joined","ann",3]"#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod acks;
mod args;
mod encode;
mod error;
mod json;
mod msgpack;
mod packet;
mod parser;
mod value;

pub use acks::{AckMap, TooManyPendingAcks};
pub use args::{Args, ArgsError};
pub use encode::Encoded;
pub use error::{EncodeError, ParseError};
pub use json::{DecoderLimits, JsonDecoder};
pub use msgpack::MsgPackDecoder;
pub use packet::{
    MAIN_NAMESPACE, Namespace, Packet, PacketKind, PacketType, RESERVED_EVENTS, is_reserved_event,
};
pub use parser::{Decoder, Parser};
pub use value::{Map, Value, ValueError};
