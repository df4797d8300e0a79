//! Bookkeeping of the acknowledgements a peer owes: bounded, and emptied as answers come
//! or waits end.

use std::collections::HashMap;
use std::fmt;

/// Acks awaited from one peer, by id, each with whatever wakes its waiter (`W`).
///
/// The count is bounded: a peer that never answers cannot make the server hold an unbounded
/// number of waiters. Whoever waits removes its entry when it stops waiting (timeout), so
/// the map holds only live waits.
#[derive(Debug)]
pub struct AckMap<W> {
    pending: HashMap<u64, W>,
    max: usize,
}

/// The peer already owes the maximum number of acks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyPendingAcks;

impl fmt::Display for TooManyPendingAcks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many acknowledgements pending for this socket")
    }
}

impl std::error::Error for TooManyPendingAcks {}

impl<W> AckMap<W> {
    /// An empty map that holds at most `max` waits.
    pub fn new(max: usize) -> Self {
        AckMap {
            pending: HashMap::new(),
            max,
        }
    }

    /// Registers a wait for the ack `id`.
    pub fn insert(&mut self, id: u64, waiter: W) -> Result<(), TooManyPendingAcks> {
        if self.pending.len() >= self.max && !self.pending.contains_key(&id) {
            return Err(TooManyPendingAcks);
        }
        self.pending.insert(id, waiter);
        Ok(())
    }

    /// The waiter of ack `id`, removed; `None` for an unknown or answered id.
    pub fn take(&mut self, id: u64) -> Option<W> {
        self.pending.remove(&id)
    }

    /// Number of pending acks.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether none is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Removes every waiter (the peer is gone).
    pub fn drain(&mut self) -> impl Iterator<Item = (u64, W)> + '_ {
        self.pending.drain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_emptied() {
        let mut acks = AckMap::new(2);
        acks.insert(1, "a").unwrap();
        acks.insert(2, "b").unwrap();
        assert_eq!(acks.insert(3, "c"), Err(TooManyPendingAcks));
        assert_eq!(acks.take(1), Some("a"));
        assert_eq!(acks.take(1), None);
        acks.insert(3, "c").unwrap();
        assert_eq!(acks.drain().count(), 2);
        assert!(acks.is_empty());
    }
}
