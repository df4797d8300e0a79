//! Session ids.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Number of random bytes in a session id (120 bits).
pub const SID_RANDOM_BYTES: usize = 15;
const SID_LEN: usize = 20;

/// An Engine.IO session id: 20 URL-safe base64 characters carrying 120 random bits.
///
/// The protocol core does not draw random numbers; the driver passes bytes from a
/// cryptographically secure generator to [`Sid::from_random`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid([u8; SID_LEN]);

impl Sid {
    /// The id for 15 random bytes.
    pub fn from_random(bytes: [u8; SID_RANDOM_BYTES]) -> Self {
        let mut out = [0u8; SID_LEN];
        // 15 bytes are exactly 20 base64 characters, so the buffer always fits.
        let written = URL_SAFE_NO_PAD.encode_slice(bytes, &mut out).unwrap_or(0);
        debug_assert_eq!(written, SID_LEN);
        Sid(out)
    }

    /// Parses an id received from a client; `None` unless it has the shape of an id.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; SID_LEN] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .then_some(Sid(bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Always ASCII: built from the base64 alphabet or checked by `parse`.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let sid = Sid::from_random([0xfb; 15]);
        assert_eq!(sid.as_str().len(), 20);
        assert_eq!(Sid::parse(sid.as_str()), Some(sid));
        assert_eq!(Sid::parse("__proto__"), None);
        assert_eq!(
            Sid::parse("constructor_________"),
            Some(Sid(*b"constructor_________"))
        );
        assert_eq!(Sid::parse("aaaaaaaaaaaaaaaaaaa/"), None);
        assert_eq!(Sid::parse("éééééééééé"), None);
    }
}
