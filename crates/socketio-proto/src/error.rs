//! Errors of the Socket.IO protocol core.

use std::fmt;

/// Why bytes from a peer are not a valid Socket.IO packet. The peer's fault: a server closes
/// the connection with the `parse error` reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The packet type is not `0`–`6` (or not `0`–`4` in msgpack).
    UnknownType,
    /// The attachment count of a binary packet is missing, not a non-negative integer, or
    /// not followed by `-`.
    IllegalAttachments,
    /// More attachments announced than the decoder's limit (10 by default).
    TooManyAttachments,
    /// A namespace longer than the decoder's limit.
    NamespaceTooLong,
    /// An ack id that is not an integer that fits in 64 bits.
    InvalidAckId,
    /// The data does not fit the packet type: not JSON, an event that is not a non-empty
    /// array, a connect payload that is not an object, data on a disconnect…
    InvalidPayload,
    /// An event name that is neither a string nor a number.
    InvalidEventName,
    /// An event named like one of the reserved events (`connect`, `disconnect`, …).
    ReservedEventName,
    /// A placeholder whose `num` is not an integer within the attachments, or is used twice.
    IllegalPlaceholder,
    /// Binary data when no binary packet waits for attachments.
    UnexpectedBinary,
    /// Text while a binary packet still waits for attachments.
    UnexpectedText,
    /// A msgpack packet that does not decode, or is not a map of the expected fields.
    InvalidMsgPack,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::UnknownType => "unknown packet type",
            ParseError::IllegalAttachments => "illegal attachments",
            ParseError::TooManyAttachments => "too many attachments",
            ParseError::NamespaceTooLong => "namespace too long",
            ParseError::InvalidAckId => "invalid ack id",
            ParseError::InvalidPayload => "invalid payload",
            ParseError::InvalidEventName => "invalid event name",
            ParseError::ReservedEventName => "reserved event name",
            ParseError::IllegalPlaceholder => "illegal attachment placeholder",
            ParseError::UnexpectedBinary => "binary data when no attachment was expected",
            ParseError::UnexpectedText => "text while reconstructing a binary packet",
            ParseError::InvalidMsgPack => "invalid msgpack packet",
        })
    }
}

impl std::error::Error for ParseError {}

/// Why arguments could not be encoded (a `Serialize` implementation failed, or produced
/// something that is not representable, such as a map with non-string keys in JSON).
#[derive(Debug)]
pub struct EncodeError(pub(crate) String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode the arguments: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}

impl EncodeError {
    /// An encoding error with this description.
    pub fn new(error: impl fmt::Display) -> Self {
        EncodeError(error.to_string())
    }
}
