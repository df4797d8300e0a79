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

/// A hasher for maps keyed by socket id. Ids are random and chosen by servers, never by
/// clients, so a few of their bytes, mixed, hash as well as SipHash does, for a fraction
/// of the cost: SipHash was 3.5 % of the server's instructions in a broadcast to 200
/// sockets (callgrind, `bench/run.sh fanout`), one lookup per recipient.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        for chunk in bytes.chunks(8) {
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_usize(&mut self, _length: usize) {}

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by socket id.
pub(crate) type IdMap<V> =
    std::collections::HashMap<SocketId, V, std::hash::BuildHasherDefault<IdHasher>>;

/// A set of socket ids.
pub(crate) type IdSet =
    std::collections::HashSet<SocketId, std::hash::BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_spread_over_the_buckets() {
        use std::hash::BuildHasher;
        let build = std::hash::BuildHasherDefault::<IdHasher>::default();
        let buckets = 64;
        let mut counts = vec![0usize; buckets];
        for _ in 0..64_000 {
            let hash = build.hash_one(SocketId::random());
            counts[(hash % buckets as u64) as usize] += 1;
            // hashbrown takes its control byte from the top bits.
            counts[(hash >> 58) as usize] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min > 1700 && *max < 2300, "{min}..{max}");
    }
}
