//! Counters of what the server does, for metrics.
//!
//! Every packet in or out counts, from every core: one shared counter would bounce its
//! cache line between cores on each packet, so each connection counts into one of a few
//! shards, each on its own cache line, and a read sums them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const SHARDS: usize = 16;

#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard {
    events_in: AtomicU64,
    bytes_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_out: AtomicU64,
    volatile_dropped: AtomicU64,
    buffer_full: AtomicU64,
    ack_timeouts: AtomicU64,
}

/// The server's counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    shards: [Shard; SHARDS],
    next: AtomicUsize,
}

/// One connection's view of the counters: always the same shard.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Counter<'a> {
    shard: &'a Shard,
}

impl Counters {
    /// A shard for a new connection (round robin).
    pub(crate) fn shard(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % SHARDS
    }

    pub(crate) fn at(&self, shard: usize) -> Counter<'_> {
        Counter {
            shard: &self.shards[shard % SHARDS],
        }
    }

    /// Sums the shards.
    pub(crate) fn snapshot(&self) -> Stats {
        let mut stats = Stats::default();
        for shard in &self.shards {
            let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
            stats.events_in += get(&shard.events_in);
            stats.bytes_in += get(&shard.bytes_in);
            stats.packets_out += get(&shard.packets_out);
            stats.bytes_out += get(&shard.bytes_out);
            stats.volatile_dropped += get(&shard.volatile_dropped);
            stats.buffer_full += get(&shard.buffer_full);
            stats.ack_timeouts += get(&shard.ack_timeouts);
        }
        stats
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counter<'_> {
    pub(crate) fn bytes_in(&self, bytes: usize) {
        add(&self.shard.bytes_in, bytes as u64);
    }

    pub(crate) fn packet_in(&self) {
        add(&self.shard.events_in, 1);
    }

    pub(crate) fn packet_out(&self, bytes: usize) {
        add(&self.shard.packets_out, 1);
        add(&self.shard.bytes_out, bytes as u64);
    }

    pub(crate) fn volatile_dropped(&self) {
        add(&self.shard.volatile_dropped, 1);
    }

    pub(crate) fn buffer_full(&self) {
        add(&self.shard.buffer_full, 1);
    }

    pub(crate) fn ack_timeouts(&self, n: usize) {
        add(&self.shard.ack_timeouts, n as u64);
    }
}

/// What a Socket.IO server has done since it started: [`SocketIo::stats`](crate::SocketIo::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Packets received from clients (events, acks, joins, leaves), binary attachments
    /// included in their packet.
    pub events_in: u64,
    /// Bytes received (the Engine.IO messages of those packets).
    pub bytes_in: u64,
    /// Packets queued for clients (a broadcast counts once per recipient).
    pub packets_out: u64,
    /// Bytes of those packets.
    pub bytes_out: u64,
    /// Volatile packets dropped because their client could not take them at once.
    pub volatile_dropped: u64,
    /// Packets refused because a client's outgoing buffer was full.
    pub buffer_full: u64,
    /// Acknowledgements that did not come in time (one per socket for a broadcast).
    pub ack_timeouts: u64,
}
