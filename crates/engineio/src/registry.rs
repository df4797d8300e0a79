//! The open sessions, by id: a sharded map so that concurrent handshakes and long-polling
//! requests do not queue behind one lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use engineio_proto::Sid;

use crate::socket::Shared;

const SHARDS: usize = 16;

pub(crate) struct Registry {
    shards: [Mutex<HashMap<Sid, Arc<Shared>>>; SHARDS],
    len: AtomicUsize,
    max: usize,
}

/// The session limit was reached.
pub(crate) struct Full;

impl Registry {
    pub(crate) fn new(max: usize) -> Self {
        Registry {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            len: AtomicUsize::new(0),
            max,
        }
    }

    fn shard(&self, sid: &Sid) -> MutexGuard<'_, HashMap<Sid, Arc<Shared>>> {
        // Session ids are random, so their first byte spreads them evenly.
        let index = sid.as_str().as_bytes()[0] as usize % SHARDS;
        // A poisoned shard only means a panic elsewhere while it was held; the map itself
        // is still consistent (every operation on it is a single insert/remove/get).
        self.shards[index]
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Takes a place for a new session, or fails if the limit is reached.
    pub(crate) fn reserve(&self) -> Result<(), Full> {
        let previous = self.len.fetch_add(1, Ordering::AcqRel);
        if previous >= self.max {
            self.len.fetch_sub(1, Ordering::AcqRel);
            return Err(Full);
        }
        Ok(())
    }

    /// Gives back a place taken by [`reserve`](Self::reserve): one never used, or a
    /// session's once it is closed (its entry may stay a little longer, see
    /// [`remove`](Self::remove)).
    pub(crate) fn release(&self) {
        self.len.fetch_sub(1, Ordering::AcqRel);
    }

    /// Adds a session for which a place was reserved.
    pub(crate) fn insert(&self, shared: Arc<Shared>) {
        self.shard(&shared.sid).insert(shared.sid, shared);
    }

    pub(crate) fn get(&self, sid: &Sid) -> Option<Arc<Shared>> {
        self.shard(sid).get(sid).cloned()
    }

    /// Removes a session's entry; its place is given back separately, by
    /// [`release`](Self::release), as the session closes.
    pub(crate) fn remove(&self, sid: &Sid) {
        self.shard(sid).remove(sid);
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    pub(crate) fn all(&self) -> Vec<Arc<Shared>> {
        let mut all = Vec::new();
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(|poison| poison.into_inner());
            all.extend(shard.values().cloned());
        }
        all
    }
}
