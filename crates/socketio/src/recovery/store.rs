//! Where a namespace keeps replayable packets and disconnected sessions, and the in-memory
//! store. No I/O and no clock of its own: the caller passes the time, so the store is
//! tested deterministically.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use socketio_proto::{Encoded, Value};

use super::{ConnectionStateRecovery, PreviousSession, RecoveryError};
use crate::id::SocketId;
use crate::rooms::Target;

/// A socket's session as stored while its client is away. Offsets are the store's
/// sequence numbers (0: before the first packet).
#[derive(Clone, Debug, PartialEq)]
pub struct PersistedSession {
    /// The private session id the client presents to recover.
    pub pid: String,
    /// The socket's id.
    pub id: SocketId,
    /// Its rooms, its own room included.
    pub rooms: Vec<String>,
    /// Its data.
    pub data: Value,
    /// The offset of the last replayable packet sent to the socket (0 if none).
    pub last_sent: u64,
    /// The store's offset when the socket was first created: a client reporting an
    /// older offset (from an earlier session) has received nothing of this one.
    pub created_at: u64,
    /// The store's offset when the socket left.
    pub left_at: u64,
    /// The store's offset when the socket last joined or left a room after it was
    /// created (0 if it never did). Packets before it were sent to other rooms than
    /// `rooms`: a client that has not received up to here cannot be replayed to by rooms.
    pub rooms_changed_at: u64,
}

/// Why [`SessionStore::restore`] did not restore a session.
#[derive(Clone, Debug, PartialEq)]
pub struct RestoreFailure {
    /// Why.
    pub error: RecoveryError,
    /// The session, if it was found.
    pub previous: Option<Box<PreviousSession>>,
}

impl RestoreFailure {
    /// A failure, with the session that was found (its pid and offsets are dropped).
    pub fn new(error: RecoveryError, session: Option<PersistedSession>) -> Self {
        RestoreFailure {
            error,
            previous: session.map(|session| {
                Box::new(PreviousSession {
                    id: session.id,
                    rooms: session.rooms,
                    data: session.data,
                })
            }),
        }
    }
}

/// A session restored by [`SessionStore::restore`].
#[derive(Clone, Debug)]
pub struct RestoredSession {
    /// The session.
    pub session: PersistedSession,
    /// The packets it missed, in order, offsets included.
    pub missed: Vec<Encoded>,
    /// The offset of the last of them (the client's offset if none).
    pub last_missed: u64,
}

/// What a cluster's shared storage held for a restore, fetched by the namespace's
/// [`Adapter`](crate::Adapter) before the namespace's lock
/// ([`Adapter::fetch_session`](crate::Adapter::fetch_session)) and completed by
/// [`SessionStore::restore_fetched`] under it.
#[derive(Clone, Debug)]
pub struct FetchedSession {
    /// The session, taken out of the shared storage (its offsets are 0 where the server
    /// that kept it does not record them).
    pub session: PersistedSession,
    /// The offset the replay starts after: the client's, or the session's creation.
    pub from: u64,
    /// The packets for the session after `from`, in order, each with its offset, which it
    /// carries as its last argument.
    pub missed: Vec<(u64, Encoded)>,
    /// The last offset the fetch read (`from` if none): packets after it are not in
    /// `missed`.
    pub through: u64,
}

/// The storage behind connection state recovery, one per namespace, obtained from the
/// namespace's [`Adapter`](crate::Adapter) (the in-memory [`MemorySessionStore`] by default).
///
/// The namespace calls it under its delivery lock, so that offsets follow delivery order:
/// every method must answer from memory, without waiting. A cluster store keeps a local
/// replica of what it shares.
pub trait SessionStore: Send + 'static {
    /// Takes the offset of the next replayable packet; returns it with its text, which the
    /// packet carries as its last argument.
    fn next_offset(&mut self) -> (u64, String);

    /// The last offset taken (0 if none).
    fn last_offset(&self) -> u64;

    /// The text of the last offset taken (carried by volatile packets).
    fn current_offset(&self) -> String;

    /// Keeps a replayable packet (`packet` carries `offset`), sent at `now` to `target`.
    fn store(&mut self, offset: u64, target: &Target, packet: &Encoded, now: Instant);

    /// Keeps the session of a socket whose client went away at `now`.
    fn persist(&mut self, session: PersistedSession, now: Instant);

    /// Takes back the session `pid` for a client that reports `offset` (`None` if it never
    /// received a packet), with the packets it missed; or says why not, with the session
    /// if it was found.
    fn restore(
        &mut self,
        pid: &str,
        offset: Option<&str>,
        now: Instant,
    ) -> Result<RestoredSession, RestoreFailure>;

    /// Takes `offset`, given by an adapter that orders replayable packets itself
    /// ([`Adapter::sequences_broadcasts`](crate::Adapter::sequences_broadcasts)), for the
    /// next packet; returns its text, or `None` if this store does not take given offsets
    /// or `offset` is not after the last one (the packet is then not replayable).
    fn take_offset(&mut self, _offset: u64) -> Option<String> {
        None
    }

    /// Completes a restore whose shared part was fetched before the lock (`fetched`, or
    /// why it failed). By default the fetch is ignored and [`restore`](Self::restore)
    /// answers.
    fn restore_fetched(
        &mut self,
        pid: &str,
        offset: Option<&str>,
        fetched: Result<FetchedSession, RestoreFailure>,
        now: Instant,
    ) -> Result<RestoredSession, RestoreFailure> {
        let _ = fetched;
        self.restore(pid, offset, now)
    }
}

/// How a store writes and reads the offsets an adapter gives it
/// ([`MemorySessionStore::sequenced`]).
#[derive(Clone, Copy, Debug)]
pub struct OffsetFormat {
    /// An offset's text, as the client receives it.
    pub format: fn(u64) -> String,
    /// An offset from its text (`None`: not one of this format).
    pub parse: fn(&str) -> Option<u64>,
}

struct StoredPacket {
    offset: u64,
    sent_at: Instant,
    target: Target,
    packet: Encoded,
    cost: usize,
}

/// Bytes counted for a stored packet besides its own.
const PACKET_OVERHEAD: usize = 96;

/// The default store: packets and sessions in memory, bounded by
/// [`ConnectionStateRecovery`]'s limits and expiring on time.
pub struct MemorySessionStore {
    config: ConnectionStateRecovery,
    /// Random per store: offsets from another store (another server, or before a restart)
    /// are recognised as unknown.
    epoch: u32,
    /// Offsets given by the adapter, in this format (`None`: the store's own).
    given: Option<OffsetFormat>,
    last_offset: u64,
    packets: VecDeque<StoredPacket>,
    stored_bytes: usize,
    /// The highest offset dropped from `packets` (0: none).
    dropped_through: u64,
    sessions: HashMap<String, (Instant, PersistedSession)>,
    /// Sessions by time of disconnection, for expiry (entries of sessions since restored
    /// or replaced are skipped).
    expiry: VecDeque<(Instant, String)>,
}

impl std::fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySessionStore")
            .field("last_offset", &self.last_offset)
            .field("packets", &self.packets.len())
            .field("stored_bytes", &self.stored_bytes)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl MemorySessionStore {
    /// An empty store with these limits.
    pub fn new(config: &ConnectionStateRecovery) -> Self {
        MemorySessionStore {
            config: config.clone(),
            epoch: rand::random(),
            given: None,
            last_offset: 0,
            packets: VecDeque::new(),
            stored_bytes: 0,
            dropped_through: 0,
            sessions: HashMap::new(),
            expiry: VecDeque::new(),
        }
    }

    /// A store whose offsets are given by the adapter
    /// ([`SessionStore::take_offset`]), in `format`: the replica of a log the servers of a
    /// cluster share, which recovers clients of any of them.
    pub fn sequenced(config: &ConnectionStateRecovery, format: OffsetFormat) -> Self {
        MemorySessionStore {
            given: Some(format),
            ..MemorySessionStore::new(config)
        }
    }

    fn format(&self, offset: u64) -> String {
        match self.given {
            Some(given) => (given.format)(offset),
            None => format!("{:x}-{offset:x}", self.epoch),
        }
    }

    fn parse(&self, text: &str) -> Option<u64> {
        if let Some(given) = self.given {
            // Any offset of the log: the client may have it from another server.
            return (given.parse)(text);
        }
        let (epoch, offset) = text.split_once('-')?;
        if u32::from_str_radix(epoch, 16).ok()? != self.epoch {
            return None;
        }
        u64::from_str_radix(offset, 16)
            .ok()
            .filter(|&offset| offset <= self.last_offset)
    }

    fn retention(&self) -> Duration {
        self.config.max_disconnection_duration + self.config.retention_margin
    }

    fn drop_packets(&mut self, now: Instant) {
        let retention = self.retention();
        while let Some(oldest) = self.packets.front() {
            let expired = now.saturating_duration_since(oldest.sent_at) > retention;
            if !expired && self.stored_bytes <= self.config.max_stored_bytes {
                break;
            }
            self.stored_bytes -= oldest.cost;
            self.dropped_through = oldest.offset;
            self.packets.pop_front();
        }
    }

    fn drop_sessions(&mut self, now: Instant) {
        let window = self.config.max_disconnection_duration;
        while let Some((left, pid)) = self.expiry.front() {
            let current = self.sessions.get(pid).map(|(at, _)| *at);
            if current != Some(*left) {
                // Restored or persisted again since.
                self.expiry.pop_front();
                continue;
            }
            let expired = now.saturating_duration_since(*left) > window;
            if !expired && self.sessions.len() <= self.config.max_sessions {
                break;
            }
            self.sessions.remove(pid);
            self.expiry.pop_front();
        }
        if self.expiry.len() > 2 * self.sessions.len() + 64 {
            let sessions = &self.sessions;
            self.expiry
                .retain(|(at, pid)| sessions.get(pid).is_some_and(|(left, _)| left == at));
        }
    }

    /// Stored packets (for tests and metrics).
    pub fn packet_count(&self) -> usize {
        self.packets.len()
    }

    /// Stored sessions (for tests and metrics).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }
}

impl SessionStore for MemorySessionStore {
    fn take_offset(&mut self, offset: u64) -> Option<String> {
        if self.given.is_none() || offset <= self.last_offset {
            return None;
        }
        self.last_offset = offset;
        Some(self.format(offset))
    }

    fn restore_fetched(
        &mut self,
        pid: &str,
        offset: Option<&str>,
        fetched: Result<FetchedSession, RestoreFailure>,
        now: Instant,
    ) -> Result<RestoredSession, RestoreFailure> {
        self.drop_sessions(now);
        self.drop_packets(now);
        // The shared storage has the session's last word: this copy is superseded.
        self.sessions.remove(pid);
        let _ = offset;
        let FetchedSession {
            session,
            from,
            mut missed,
            through,
        } = fetched?;
        if session.rooms_changed_at > from {
            return Err(RestoreFailure::new(
                RecoveryError::Incomplete,
                Some(session),
            ));
        }
        // Packets this server has not delivered yet reach the socket live, after it is
        // back in its rooms; those it delivered since the fetch come from here.
        let delivered = self.last_offset;
        missed.retain(|(offset, _)| *offset <= delivered);
        let start = from.max(through);
        if delivered > start {
            if self.dropped_through > start {
                return Err(RestoreFailure::new(
                    RecoveryError::Incomplete,
                    Some(session),
                ));
            }
            let first = self.packets.partition_point(|p| p.offset <= start);
            missed.extend(
                self.packets
                    .range(first..)
                    .filter(|p| p.target.includes(&session.rooms))
                    .map(|p| (p.offset, p.packet.clone())),
            );
        }
        if missed.len() > self.config.max_missed_packets {
            let missed = missed.len();
            return Err(RestoreFailure::new(
                RecoveryError::TooManyMissed { missed },
                Some(session),
            ));
        }
        let last_missed = missed.last().map_or(from, |(offset, _)| *offset);
        Ok(RestoredSession {
            session,
            missed: missed.into_iter().map(|(_, packet)| packet).collect(),
            last_missed,
        })
    }

    fn next_offset(&mut self) -> (u64, String) {
        self.last_offset += 1;
        (self.last_offset, self.format(self.last_offset))
    }

    fn last_offset(&self) -> u64 {
        self.last_offset
    }

    fn current_offset(&self) -> String {
        self.format(self.last_offset)
    }

    fn store(&mut self, offset: u64, target: &Target, packet: &Encoded, now: Instant) {
        let cost = PACKET_OVERHEAD
            + packet.byte_len()
            + target
                .rooms
                .iter()
                .chain(&target.except)
                .map(|room| room.len() + 24)
                .sum::<usize>();
        self.stored_bytes += cost;
        self.packets.push_back(StoredPacket {
            offset,
            sent_at: now,
            target: target.clone(),
            packet: packet.clone(),
            cost,
        });
        self.drop_packets(now);
    }

    fn persist(&mut self, session: PersistedSession, now: Instant) {
        self.expiry.push_back((now, session.pid.clone()));
        self.sessions.insert(session.pid.clone(), (now, session));
        self.drop_sessions(now);
        self.drop_packets(now);
    }

    fn restore(
        &mut self,
        pid: &str,
        offset: Option<&str>,
        now: Instant,
    ) -> Result<RestoredSession, RestoreFailure> {
        self.drop_sessions(now);
        self.drop_packets(now);
        let Some((_, session)) = self.sessions.remove(pid) else {
            return Err(RestoreFailure::new(RecoveryError::UnknownSession, None));
        };
        let reported = match offset {
            None => 0,
            Some(text) => match self.parse(text) {
                Some(offset) => offset,
                None => {
                    return Err(RestoreFailure::new(
                        RecoveryError::UnknownOffset,
                        Some(session),
                    ));
                }
            },
        };
        // An offset from before this session (the client keeps its last offset across
        // sessions) means it received nothing of this one.
        let from = reported.max(session.created_at);
        // Packets after `from` were dropped: complete only if none of them can have been
        // for this session, i.e. they were all sent while it was connected (so the client
        // got them, or they were not for it) and none was sent to it after `from`.
        let complete = (self.dropped_through <= from
            || (session.last_sent <= from && self.dropped_through <= session.left_at))
            // Its rooms changed after `from`: which packets were for it is not known.
            && session.rooms_changed_at <= from;
        if !complete {
            return Err(RestoreFailure::new(
                RecoveryError::Incomplete,
                Some(session),
            ));
        }
        let start = self.packets.partition_point(|p| p.offset <= from);
        let missed: Vec<&StoredPacket> = self
            .packets
            .range(start..)
            .filter(|p| p.target.includes(&session.rooms))
            .collect();
        if missed.len() > self.config.max_missed_packets {
            let missed = missed.len();
            return Err(RestoreFailure::new(
                RecoveryError::TooManyMissed { missed },
                Some(session),
            ));
        }
        let last_missed = missed.last().map_or(from, |p| p.offset);
        let missed = missed.into_iter().map(|p| p.packet.clone()).collect();
        Ok(RestoredSession {
            session,
            missed,
            last_missed,
        })
    }
}

#[cfg(test)]
mod tests;
