//! Errors and disconnect reasons.

use std::fmt;
use std::time::Duration;

use socketio_proto::{ArgsError, EncodeError, Value};

/// Why a socket left its namespace. [`as_str`](Self::as_str) gives Node's wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The client closed the connection, or it broke.
    TransportClose,
    /// The connection failed (an I/O error, a message over the size limit…).
    TransportError,
    /// The client did not answer the heartbeat.
    PingTimeout,
    /// The client sent something that is not Socket.IO.
    ParseError,
    /// The server closed the Engine.IO session.
    ForcedClose,
    /// The server closed the connection ([`Socket::disconnect_connection`](crate::Socket::disconnect_connection),
    /// or no namespace was joined within the connect timeout).
    ForcedServerClose,
    /// The server made the socket leave ([`Socket::disconnect`](crate::Socket::disconnect)).
    ServerNamespaceDisconnect,
    /// The client left the namespace.
    ClientNamespaceDisconnect,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client read too slowly: its outgoing buffer filled up and the server's
    /// slow-consumer policy closed the connection (socketio-rs only; Node buffers without
    /// bound).
    BufferFull,
}

impl DisconnectReason {
    /// The reason as Node's server words it.
    pub const fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ForcedServerClose => "forced server close",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::BufferFull => "buffer full",
        }
    }

    pub(crate) fn from_engine(reason: engineio::CloseReason) -> Self {
        match reason {
            engineio::CloseReason::TransportClose => DisconnectReason::TransportClose,
            engineio::CloseReason::TransportError => DisconnectReason::TransportError,
            engineio::CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            engineio::CloseReason::ParseError => DisconnectReason::ParseError,
            engineio::CloseReason::ForcedClose => DisconnectReason::ForcedClose,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an emit did not go out. These are the caller's to handle: the socket is gone, or
/// the client reads too slowly, or the arguments cannot be encoded.
#[derive(Debug)]
#[non_exhaustive]
pub enum EmitError {
    /// The socket is disconnected.
    Disconnected,
    /// The client's outgoing buffer is full (it reads slower than the server writes). With
    /// the default slow-consumer policy the connection has been closed.
    BufferFull,
    /// The event name is one the client reserves (`connect`, `disconnect`, …).
    ReservedEvent(String),
    /// The arguments could not be encoded.
    Encode(EncodeError),
    /// Delivered to this server's sockets, but not forwarded to the other servers of the
    /// cluster (the adapter's broker is down or refused it).
    Cluster(crate::adapter::AdapterError),
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::Disconnected => f.write_str("the socket is disconnected"),
            EmitError::BufferFull => f.write_str("the client's outgoing buffer is full"),
            EmitError::ReservedEvent(name) => write!(f, "\"{name}\" is a reserved event name"),
            EmitError::Encode(error) => fmt::Display::fmt(error, f),
            EmitError::Cluster(error) => write!(
                f,
                "delivered on this server only, not to the rest of the cluster: {error}"
            ),
        }
    }
}

impl std::error::Error for EmitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EmitError::Encode(error) => Some(error),
            EmitError::Cluster(error) => Some(error),
            _ => None,
        }
    }
}

impl From<EncodeError> for EmitError {
    fn from(error: EncodeError) -> Self {
        EmitError::Encode(error)
    }
}

/// Why an acknowledgement did not arrive or could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum AckError {
    /// The emit itself failed.
    Emit(EmitError),
    /// No answer within the timeout.
    Timeout(Duration),
    /// The socket disconnected before answering.
    Disconnected,
    /// The socket already owes the maximum number of acknowledgements.
    TooManyPending,
    /// The answer did not deserialise into the requested type.
    Args(ArgsError),
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AckError::Emit(error) => fmt::Display::fmt(error, f),
            AckError::Timeout(after) => write!(f, "operation has timed out (after {after:?})"),
            AckError::Disconnected => f.write_str("the socket disconnected before answering"),
            AckError::TooManyPending => {
                f.write_str("too many acknowledgements pending for this socket")
            }
            AckError::Args(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl std::error::Error for AckError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AckError::Emit(error) => Some(error),
            AckError::Args(error) => Some(error),
            _ => None,
        }
    }
}

impl From<EmitError> for AckError {
    fn from(error: EmitError) -> Self {
        AckError::Emit(error)
    }
}

/// A namespace middleware's refusal: the client's `connect_error` handler receives an
/// `Error` whose `message` is this message and whose `data` is this data.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectError {
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
}

impl ConnectError {
    /// A refusal with a message.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds `err.data` for the client (any serialisable value).
    pub fn with_data<T: serde::Serialize + ?Sized>(mut self, data: &T) -> Self {
        self.data = Value::from_serialize(data).ok();
        self
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Any error refuses the connection with its message, so middleware can use `?`.
impl<E: std::error::Error> From<E> for ConnectError {
    fn from(error: E) -> Self {
        ConnectError::new(error.to_string())
    }
}
