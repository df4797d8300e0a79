//! Socket ids.

use std::fmt;

use engineio::Sid;

/// A socket's id: 120 random bits, unrelated to the Engine.IO session id (which is a
/// bearer token and never leaves the connection).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(Sid);

impl SocketId {
    pub(crate) fn random() -> Self {
        SocketId(Sid::from_random(rand::random()))
    }

    /// Parses an id received as text.
    pub fn parse(text: &str) -> Option<Self> {
        Sid::parse(text).map(SocketId)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SocketId({})", self.as_str())
    }
}
