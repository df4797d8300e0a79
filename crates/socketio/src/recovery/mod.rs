//! Connection state recovery (Node's `connectionStateRecovery`): a client whose connection
//! dropped comes back with its socket id, rooms and data, and receives the packets it
//! missed, once each and in order.
//!
//! How it works, as in Node: the `CONNECT` reply carries a private session id (`pid`);
//! every replayable packet (an event without acknowledgement, not volatile) carries its
//! offset as its last argument, and the client reports the last offset it received when it
//! reconnects. The namespace's [`SessionStore`] keeps the replayable packets and the
//! sessions of disconnected sockets for a while, and restores them.
//!
//! Where this goes further than Node:
//! - Offsets are ordered, so a socket that has received nothing for longer than the
//!   retention still recovers: the store knows that the packets it dropped were not for it.
//! - A replay that cannot be complete (its packets were dropped by the retention or the
//!   memory bounds, or there are too many) is not half done: the client gets a fresh
//!   session and the handler learns why, with the previous session's rooms and data, from
//!   [`Socket::recovery`](crate::Socket::recovery).
//! - A client that reconnects before the server noticed that its old connection died (no
//!   TCP close, e.g. a network switch) takes its session over instead of losing it.
//! - Delivery to a socket follows offset order even with concurrent broadcasters, so the
//!   offset a client reports covers exactly what it received.
//!
//! Volatile packets and packets that wait for an acknowledgement are not replayed, as in
//! Node. Volatile packets carry the current offset too (Node's client takes any trailing
//! string as the offset), so they keep the client's offset right.

mod store;

use std::time::Duration;

use socketio_proto::Value;

use crate::id::SocketId;

pub use store::{
    FetchedSession, MemorySessionStore, OffsetFormat, PersistedSession, RestoreFailure,
    RestoredSession, SessionStore,
};

/// Connection state recovery options, with Node's defaults and bounds of our own: see
/// [`SocketIoBuilder::connection_state_recovery`](crate::SocketIoBuilder::connection_state_recovery).
///
/// ```
/// use std::time::Duration;
/// use socketio::ConnectionStateRecovery;
///
/// let recovery = ConnectionStateRecovery {
///     max_disconnection_duration: Duration::from_secs(30),
///     ..ConnectionStateRecovery::default()
/// };
/// # let _ = recovery;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionStateRecovery {
    /// How long a disconnected socket's session is kept (Node's default: 2 minutes).
    pub max_disconnection_duration: Duration,
    /// Whether a recovered socket skips the namespace's middlewares (Node's default: true).
    pub skip_middlewares: bool,
    /// How much longer than `max_disconnection_duration` packets are kept: packets sent
    /// just before a connection died unnoticed (for up to the heartbeat's interval and
    /// timeout, 45 s by default) must still be there for its recovery. Default 1 minute.
    pub retention_margin: Duration,
    /// Bytes of packets a namespace keeps at most; the oldest go first (default 64 MiB).
    pub max_stored_bytes: usize,
    /// Disconnected sessions a namespace keeps at most; the oldest go first (default
    /// 100 000).
    pub max_sessions: usize,
    /// Packets one recovery may replay at most; a client that missed more gets a fresh
    /// session (default 10 000).
    pub max_missed_packets: usize,
}

impl Default for ConnectionStateRecovery {
    fn default() -> Self {
        ConnectionStateRecovery {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            retention_margin: Duration::from_secs(60),
            max_stored_bytes: 64 << 20,
            max_sessions: 100_000,
            max_missed_packets: 10_000,
        }
    }
}

/// Why a client that asked to recover its session got a fresh one instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryError {
    /// No such session: it expired, was already recovered, was dropped by the session
    /// bound, or never existed.
    UnknownSession,
    /// The offset the client reported is not one this namespace gave out.
    UnknownOffset,
    /// Some packets the client may have missed are no longer stored.
    Incomplete,
    /// The client missed more packets than one recovery replays.
    TooManyMissed {
        /// How many it missed.
        missed: usize,
    },
}

impl std::fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecoveryError::UnknownSession => f.write_str("unknown or expired session"),
            RecoveryError::UnknownOffset => f.write_str("unknown offset"),
            RecoveryError::Incomplete => f.write_str("missed packets are no longer stored"),
            RecoveryError::TooManyMissed { missed } => {
                write!(f, "{missed} missed packets, more than one recovery replays")
            }
        }
    }
}

impl std::error::Error for RecoveryError {}

/// What a disconnected socket had, as the store kept it.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviousSession {
    /// Its id.
    pub id: SocketId,
    /// Its rooms (its own room included).
    pub rooms: Vec<String>,
    /// Its data.
    pub data: Value,
}

/// How a socket came to be: [`Socket::recovery`](crate::Socket::recovery).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Recovery {
    /// The client did not ask to recover a session (a first connection, or recovery is
    /// off).
    #[default]
    NotRequested,
    /// The socket is the previous one back: same id, rooms and data; the packets it missed
    /// were replayed before any new one.
    Recovered {
        /// How many packets were replayed.
        replayed: usize,
    },
    /// The client asked, and this is a fresh socket: a new id, no rooms, no data.
    Failed {
        /// Why.
        error: RecoveryError,
        /// The previous session, when it was found but could not be restored completely:
        /// the application can put the socket back in its rooms and tell the client to
        /// fetch what it missed.
        previous: Option<Box<PreviousSession>>,
    },
}
