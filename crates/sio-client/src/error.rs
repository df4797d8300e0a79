//! Errors of emits and acknowledgements: the caller's mistakes apart from what happened on
//! the connection.

use std::fmt;

use socketio_proto::EncodeError;

/// Why an emit was not accepted. Nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmitError {
    /// The event name is one the protocol reserves (`connect`, `disconnect`, …): use
    /// another name.
    ReservedName(String),
    /// The arguments do not serialise.
    Encode(String),
    /// The socket is not connected and its offline buffer is full (policy
    /// [`WhenFull::RejectNew`](crate::WhenFull::RejectNew)): retry later, or raise
    /// [`OfflineBuffer`](crate::OfflineBuffer)'s limits.
    BufferFull,
    /// The packet is larger than the server accepts (its `maxPayload`): the server would
    /// close the connection on receiving it. Send less at a time.
    TooLarge {
        /// The encoded length of the largest message of the packet.
        len: usize,
        /// The server's limit.
        max: u64,
    },
    /// The socket's connection is gone for good (its manager was dropped).
    Closed,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::ReservedName(name) => write!(f, "\"{name}\" is a reserved event name"),
            EmitError::Encode(error) => write!(f, "cannot encode the arguments: {error}"),
            EmitError::BufferFull => f.write_str("the offline buffer is full"),
            EmitError::TooLarge { len, max } => write!(
                f,
                "a packet of {len} bytes is over the server's maxPayload of {max}"
            ),
            EmitError::Closed => f.write_str("the connection is closed"),
        }
    }
}

impl std::error::Error for EmitError {}

impl From<EncodeError> for EmitError {
    fn from(error: EncodeError) -> Self {
        EmitError::Encode(error.to_string())
    }
}

/// Why an acknowledgement did not come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AckError {
    /// The timeout passed first (`operation has timed out`).
    Timeout,
    /// The socket disconnected first (`socket has been disconnected`): the server may or
    /// may not have received the event.
    Disconnected,
    /// The packet was dropped without being sent: volatile while the transport was busy,
    /// pushed out of a full offline buffer, or too large for the server.
    Dropped,
}

impl AckError {
    /// The official client's message.
    pub const fn as_str(self) -> &'static str {
        match self {
            AckError::Timeout => "operation has timed out",
            AckError::Disconnected => "socket has been disconnected",
            AckError::Dropped => "the packet was dropped",
        }
    }
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for AckError {}

/// Why a manager or socket could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The URL is not an `http`, `https`, `ws` or `wss` URL with a host.
    InvalidUrl(String),
    /// Native targets run the connection on tokio: make the client inside a tokio
    /// runtime.
    NoRuntime,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::InvalidUrl(url) => write!(f, "invalid Socket.IO URL: {url}"),
            BuildError::NoRuntime => f.write_str("no tokio runtime to run the connection on"),
        }
    }
}

impl std::error::Error for BuildError {}
