//! What a client observes: disconnect reasons, refusals, manager events.

use std::fmt;

use engineio_proto::CloseReason;
use socketio_proto::Value;

/// Why a socket disconnected (or a manager closed), in the official client's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The server disconnected the socket (`socket.disconnect()` on the server): the
    /// client does not reconnect it by itself.
    IoServerDisconnect,
    /// The client disconnected the socket.
    IoClientDisconnect,
    /// The server sent no ping within `pingInterval + pingTimeout`.
    PingTimeout,
    /// The connection was closed (the server went away, or closed it).
    TransportClose,
    /// The connection failed.
    TransportError,
    /// The server sent a packet this client cannot decode.
    ParseError,
    /// The manager was closed by the client.
    ForcedClose,
}

impl DisconnectReason {
    /// The official client's string for it.
    pub const fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::IoServerDisconnect => "io server disconnect",
            DisconnectReason::IoClientDisconnect => "io client disconnect",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
        }
    }

    /// Whether the manager reconnects after it by itself (every reason but the server's
    /// or the client's own disconnect).
    pub const fn reconnects(self) -> bool {
        !matches!(
            self,
            DisconnectReason::IoServerDisconnect
                | DisconnectReason::IoClientDisconnect
                | DisconnectReason::ForcedClose
        )
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::TransportError => DisconnectReason::TransportError,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ParseError => DisconnectReason::ParseError,
            CloseReason::ForcedClose => DisconnectReason::ForcedClose,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A connection attempt failed, or the server refused the socket (the `connect_error`
/// event).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectError {
    /// The official client's message: the server's refusal (a middleware's error message),
    /// or `xhr poll error`, `websocket error`, `timeout` for a failed attempt.
    pub message: String,
    /// The data a middleware refused with (`err.data` on the server), if any.
    pub data: Option<Value>,
    /// What the transport saw, for a failed attempt (`connection refused`, `HTTP 403`).
    pub description: Option<String>,
}

impl ConnectError {
    /// Whether the server refused the socket (a middleware said no): the client does not
    /// retry by itself, as with the official client.
    pub fn is_refusal(&self) -> bool {
        self.description.is_none()
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.description {
            Some(description) => write!(f, "{}: {description}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConnectError {}

/// An event of a [`Manager`](crate::Manager), as the official client's manager emits them.
#[derive(Clone, Debug, PartialEq)]
pub enum ManagerEvent {
    /// The Engine.IO connection opened.
    Open,
    /// The Engine.IO connection closed.
    Close(DisconnectReason),
    /// A connection attempt failed (`error`).
    Error(ConnectError),
    /// The server pinged.
    Ping,
    /// A reconnection attempt starts (its number, from 1).
    ReconnectAttempt(u32),
    /// A reconnection attempt succeeded after this many attempts.
    Reconnect(u32),
    /// A reconnection attempt failed.
    ReconnectError(ConnectError),
    /// `reconnectionAttempts` attempts failed: no more are made.
    ReconnectFailed,
    /// The transport in use, after the connection opened and after every upgrade (the
    /// engine's `upgrade` event).
    Transport(engineio_proto::TransportKind),
}

impl ManagerEvent {
    /// The official client's event name.
    pub const fn name(&self) -> &'static str {
        match self {
            ManagerEvent::Open => "open",
            ManagerEvent::Close(_) => "close",
            ManagerEvent::Error(_) => "error",
            ManagerEvent::Ping => "ping",
            ManagerEvent::ReconnectAttempt(_) => "reconnect_attempt",
            ManagerEvent::Reconnect(_) => "reconnect",
            ManagerEvent::ReconnectError(_) => "reconnect_error",
            ManagerEvent::ReconnectFailed => "reconnect_failed",
            ManagerEvent::Transport(_) => "transport",
        }
    }
}
