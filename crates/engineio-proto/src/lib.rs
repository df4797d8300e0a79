//! The Engine.IO v4 protocol with no I/O: packets, long-polling payloads, the handshake,
//! the session state machines of the server and of the client ([`client`]), and the
//! WebSocket framing under them.
//!
//! Nothing here opens a socket, spawns a task or reads a clock. Time is passed in as a
//! [`Timestamp`], inputs go in through `handle_*` methods and outputs are polled out, so the
//! same core serves the `engineio` server driver, a client, tests with fake time and fuzzers,
//! and builds for `wasm32-unknown-unknown`.
//!
//! ```
//! use std::time::Duration;
//! use engineio_proto::{
//!     Event, Message, Packet, Session, SessionConfig, Sid, Timestamp, Transmit, TransportKind,
//! };
//!
//! let start = Timestamp::ZERO;
//! let mut session =
//!     Session::new(Sid::from_random([1; 15]), SessionConfig::default(), TransportKind::WebSocket, start);
//!
//! // The handshake is the first thing to send.
//! assert!(matches!(session.poll_transmit(), Some(Transmit::WebSocket(Packet::Open(_)))));
//!
//! // A message from the client becomes an event; an answer is queued for the WebSocket.
//! session.handle_packet(start, Packet::decode_text("4hello".into())?);
//! assert_eq!(session.poll_event(), Some(Event::Message(Message::text("hello"))));
//! session.send(Message::text("world"))?;
//! assert_eq!(session.poll_transmit(), Some(Transmit::WebSocket(Message::text("world").into())));
//!
//! // Time drives the heartbeat: after `ping_interval` the server pings.
//! let later = start + Duration::from_secs(25);
//! assert_eq!(session.poll_timeout(), Some(later));
//! session.handle_timeout(later);
//! assert_eq!(session.poll_transmit(), Some(Transmit::WebSocket(Packet::ping())));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod client;
mod error;
mod handshake;
mod packet;
mod payload;
pub mod queue;
mod session;
mod sid;
mod time;
pub mod websocket;

pub use client::Endpoint;
pub use error::DecodeError;
pub use handshake::Handshake;
pub use packet::{Frame, Message, PROBE, Packet, PacketType, Text};
pub use payload::{
    PayloadDecoder, SEPARATOR, decode_payload, encode_base64, encode_payload, encode_payload_into,
};
pub use session::{
    CloseReason, Event, PollError, ProbeError, Session, SessionClosed, SessionConfig, Transmit,
    TransportKind,
};
pub use sid::{SID_RANDOM_BYTES, Sid};
pub use time::Timestamp;
