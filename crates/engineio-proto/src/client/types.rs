//! What a client session takes, asks for and reports: its options, the requests for the
//! driver, the events for the application, its errors.

use std::fmt;

use bytes::Bytes;

use crate::handshake::Handshake;
use crate::packet::{Message, Packet};
use crate::session::{CloseReason, TransportKind};

/// How a client chooses and changes transports. The defaults are the official client's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    /// Transports to use, in order of preference. Default: long-polling, then WebSocket.
    pub transports: Vec<TransportKind>,
    /// Whether to upgrade from long-polling to WebSocket when the server offers it.
    /// Default true.
    pub upgrade: bool,
    /// Whether to open with WebSocket straight away when the last WebSocket this client
    /// opened worked (the driver remembers that and passes it in). Default false.
    pub remember_upgrade: bool,
    /// Whether a transport that fails before the session opens is followed by the next in
    /// [`transports`](Self::transports). Default false.
    pub try_all_transports: bool,
    /// Whether requests carry the cache-busting `t` parameter: `None` for the official
    /// client's default (on for long-polling, off for WebSocket).
    pub timestamp_requests: Option<bool>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            transports: vec![TransportKind::Polling, TransportKind::WebSocket],
            upgrade: true,
            remember_upgrade: false,
            try_all_transports: false,
            timestamp_requests: None,
        }
    }
}

/// Names one transport of a session: a long-polling request stream or a WebSocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransportId(pub(super) u64);

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientTransmit {
    /// Send a long-polling GET to `url`; report its body with
    /// [`handle_poll_response`](super::ClientSession::handle_poll_response).
    Poll {
        /// The transport it belongs to.
        transport: TransportId,
        /// The request URL.
        url: String,
    },
    /// POST `body` (a payload) to `url`; report its success with
    /// [`handle_drain`](super::ClientSession::handle_drain).
    Post {
        /// The transport it belongs to.
        transport: TransportId,
        /// The request URL.
        url: String,
        /// The payload.
        body: Bytes,
    },
    /// Open a WebSocket to `url`; report [`handle_opened`](super::ClientSession::handle_opened).
    Connect {
        /// The transport it is.
        transport: TransportId,
        /// The URL (`ws` or `wss`).
        url: String,
    },
    /// Write these packets on the WebSocket, one frame each, in order after anything sent
    /// before; report [`handle_drain`](super::ClientSession::handle_drain) once they are written.
    Send {
        /// The transport.
        transport: TransportId,
        /// The packets.
        packets: Vec<Packet>,
    },
    /// Let the transport go: abort its GET, or close the WebSocket (after writing what it
    /// was given). POSTs already made may finish. Nothing more is reported on it.
    Close {
        /// The transport.
        transport: TransportId,
    },
}

/// Which request or connection failed, in the official client's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportFailure {
    /// A long-polling GET failed (`xhr poll error`).
    Poll,
    /// A long-polling POST failed (`xhr post error`).
    Post,
    /// The WebSocket failed (`websocket error`).
    WebSocket,
    /// The server sent what is not an Engine.IO packet (`parser error`).
    Parse,
}

impl TransportFailure {
    /// The official client's message for it.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransportFailure::Poll => "xhr poll error",
            TransportFailure::Post => "xhr post error",
            TransportFailure::WebSocket => "websocket error",
            TransportFailure::Parse => "parser error",
        }
    }
}

/// A transport failed: which one, and what the driver saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    /// What failed.
    pub failure: TransportFailure,
    /// The driver's description (an HTTP status, an I/O error).
    pub description: String,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.description.is_empty() {
            f.write_str(self.failure.as_str())
        } else {
            write!(f, "{}: {}", self.failure.as_str(), self.description)
        }
    }
}

impl std::error::Error for TransportError {}

/// What the application learns from a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// The handshake arrived: the session is open.
    Open(Handshake),
    /// The server sent a message.
    Message(Message),
    /// The server pinged (the pong is already queued).
    Ping,
    /// The session moved to another transport (after the probe, to WebSocket).
    Upgrade(TransportKind),
    /// An upgrade probe failed; the session goes on where it was.
    UpgradeError(String),
    /// A transport failed. A `Closed` with [`CloseReason::TransportError`] follows, unless
    /// `tryAllTransports` moves on to the next transport.
    Error(TransportError),
    /// The session is over; no event follows.
    Closed(CloseReason),
}

/// Why a message cannot be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The session is closing or closed.
    Closed,
    /// Encoded for the current transport, the message is larger than the server's
    /// `maxPayload`: the server would close the session on receiving it.
    TooLarge {
        /// Its encoded length.
        len: usize,
        /// The server's limit.
        max: u64,
    },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("the Engine.IO session is closed"),
            SendError::TooLarge { len, max } => write!(
                f,
                "a message of {len} bytes is over the server's maxPayload of {max}"
            ),
        }
    }
}

impl std::error::Error for SendError {}
