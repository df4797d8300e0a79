//! Errors of the protocol core.

use std::fmt;

/// Why bytes from the peer are not a valid Engine.IO packet or payload.
///
/// These are the peer's faults: a server closes the session with the `parse error` reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// An empty packet (an empty frame, or two separators in a row in a payload).
    Empty,
    /// The first byte is not a packet type digit `0`–`6` (nor `b` in a payload).
    UnknownType(u8),
    /// A packet of one type was expected and another came.
    UnexpectedType(u8),
    /// Text that is not valid UTF-8.
    InvalidUtf8,
    /// A `b`-prefixed payload packet whose data is not valid base64.
    InvalidBase64,
    /// A handshake whose JSON does not have the expected fields.
    InvalidHandshake,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty packet"),
            DecodeError::UnknownType(byte) => write!(f, "unknown packet type {:?}", *byte as char),
            DecodeError::UnexpectedType(byte) => {
                write!(f, "unexpected packet type {:?}", *byte as char)
            }
            DecodeError::InvalidUtf8 => f.write_str("packet text is not valid UTF-8"),
            DecodeError::InvalidBase64 => f.write_str("binary packet is not valid base64"),
            DecodeError::InvalidHandshake => f.write_str("invalid handshake data"),
        }
    }
}

impl std::error::Error for DecodeError {}
