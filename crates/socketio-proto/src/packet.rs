//! Socket.IO packets as the server receives them.

use std::borrow::Cow;
use std::fmt;

use crate::args::Args;
use crate::value::Value;

/// The seven packet types of Socket.IO v5, with their wire digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: join a namespace (client), or accept the join (server).
    Connect,
    /// `1`: leave a namespace.
    Disconnect,
    /// `2`: an event.
    Event,
    /// `3`: the answer to an event that asked for one.
    Ack,
    /// `4`: the server refuses a join.
    ConnectError,
    /// `5`: an event with binary attachments (JSON parser only).
    BinaryEvent,
    /// `6`: an answer with binary attachments (JSON parser only).
    BinaryAck,
}

impl PacketType {
    /// The packet type for a wire number.
    pub const fn from_u8(n: u8) -> Option<Self> {
        Some(match n {
            0 => PacketType::Connect,
            1 => PacketType::Disconnect,
            2 => PacketType::Event,
            3 => PacketType::Ack,
            4 => PacketType::ConnectError,
            5 => PacketType::BinaryEvent,
            6 => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// The wire number.
    pub const fn as_u8(self) -> u8 {
        match self {
            PacketType::Connect => 0,
            PacketType::Disconnect => 1,
            PacketType::Event => 2,
            PacketType::Ack => 3,
            PacketType::ConnectError => 4,
            PacketType::BinaryEvent => 5,
            PacketType::BinaryAck => 6,
        }
    }
}

/// Event names a peer may not send: the JavaScript client and server use them for their own
/// events, so a packet carrying one is a protocol violation.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Whether `name` is one of the [`RESERVED_EVENTS`].
pub fn is_reserved_event(name: &str) -> bool {
    RESERVED_EVENTS.contains(&name)
}

/// A namespace name, `/` by default; borrowed when it is the main namespace.
pub type Namespace = Cow<'static, str>;

/// The main namespace.
pub const MAIN_NAMESPACE: &str = "/";

/// A packet received from a peer.
#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    /// The namespace it is for.
    pub nsp: Namespace,
    /// What it carries.
    pub kind: PacketKind,
}

/// The content of a [`Packet`], by type. Binary events and acks arrive here as `Event` and
/// `Ack` with their attachments in place.
#[derive(Clone, Debug, PartialEq)]
pub enum PacketKind {
    /// Join the namespace, with the client's `auth` object if it sent one.
    Connect {
        /// The `auth` payload.
        auth: Option<Value>,
    },
    /// Leave the namespace.
    Disconnect,
    /// An event, with an ack id if the sender waits for an answer.
    Event {
        /// The event name (a number on the wire is turned into its decimal text).
        name: String,
        /// The arguments after the name.
        args: Args,
        /// The id to answer with, if an answer is expected.
        ack: Option<u64>,
    },
    /// The answer to the event with this id.
    Ack {
        /// The id of the event answered.
        id: u64,
        /// The answer's arguments.
        args: Args,
    },
    /// A refused join (sent by servers; a client on the server side never sends it).
    ConnectError {
        /// The refusal: `{"message": …, "data": …}` or a string.
        data: Value,
    },
}

impl PacketKind {
    /// The wire type (without the binary variants, which depend on the encoding).
    pub fn packet_type(&self) -> PacketType {
        match self {
            PacketKind::Connect { .. } => PacketType::Connect,
            PacketKind::Disconnect => PacketType::Disconnect,
            PacketKind::Event { .. } => PacketType::Event,
            PacketKind::Ack { .. } => PacketType::Ack,
            PacketKind::ConnectError { .. } => PacketType::ConnectError,
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
