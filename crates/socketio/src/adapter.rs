//! The adapter: how a namespace reaches the sockets of the other servers of a cluster.
//!
//! A namespace delivers to its own server's sockets itself (that is the in-memory part,
//! always present) and hands every operation that may concern other servers to its
//! adapter. The default [`LocalAdapter`] has no other servers. A cluster adapter (Redis, …)
//! publishes these operations and applies the ones it receives to the namespace's local
//! sockets through [`Namespace`](crate::Namespace).

use std::fmt;

use socketio_proto::Args;

use crate::dispatch::BoxFuture;
use crate::recovery::{
    ConnectionStateRecovery, FetchedSession, MemorySessionStore, RestoreFailure, SessionStore,
};
pub use crate::rooms::Target;

/// A broadcast to forward to the other servers.
#[derive(Clone, Debug)]
pub struct BroadcastMessage {
    /// The namespace.
    pub namespace: String,
    /// The event name.
    pub event: String,
    /// The arguments.
    pub args: Args,
    /// The sockets to reach.
    pub target: Target,
    /// Dropped for clients that cannot take it at once.
    pub volatile: bool,
}

/// What another server knows of one of its sockets, for `fetch_sockets`.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteSocketData {
    /// The socket's id.
    pub id: String,
    /// Its rooms.
    pub rooms: Vec<String>,
    /// Its data.
    pub data: socketio_proto::Value,
}

/// The acknowledgements gathered from the other servers for a broadcast.
#[derive(Clone, Debug, Default)]
pub struct RemoteAcks {
    /// How many of their sockets the broadcast reached.
    pub expected: usize,
    /// The answers received (fewer than `expected` if some timed out).
    pub responses: Vec<Args>,
}

/// A failure to reach the other servers.
#[derive(Debug)]
pub struct AdapterError(pub Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "adapter error: {}", self.0)
    }
}

impl std::error::Error for AdapterError {}

/// What [`Adapter::fetch_session`] resolves to: the shared part of a restore, or why it
/// failed; `None` when the shared storage could not be asked (the store then answers from
/// memory).
pub type SessionFetch = BoxFuture<Option<Result<FetchedSession, RestoreFailure>>>;

/// The cluster side of a namespace. Every method has a single-server default, so an
/// adapter implements what its transport supports.
pub trait Adapter: Send + Sync + 'static {
    /// Whether there are other servers to reach. When false (the default) broadcasts are
    /// not converted for the cluster at all.
    fn is_cluster(&self) -> bool {
        false
    }

    /// Number of servers in the cluster, this one included.
    fn server_count(&self) -> BoxFuture<usize> {
        Box::pin(async { 1 })
    }

    /// Forwards a broadcast to the other servers (this server's sockets have it already).
    fn broadcast(&self, _message: &BroadcastMessage) -> Result<(), AdapterError> {
        Ok(())
    }

    /// Forwards a broadcast that waits for acknowledgements (all with id `ack_id`) and
    /// gathers the other servers' answers, within `timeout`.
    fn broadcast_with_ack(
        &self,
        _message: &BroadcastMessage,
        _ack_id: u64,
        _timeout: std::time::Duration,
    ) -> BoxFuture<Result<RemoteAcks, AdapterError>> {
        Box::pin(async { Ok(RemoteAcks::default()) })
    }

    /// The sockets of the other servers that `target` designates.
    fn fetch_sockets(
        &self,
        _namespace: &str,
        _target: &Target,
    ) -> BoxFuture<Result<Vec<RemoteSocketData>, AdapterError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// The storage of connection state recovery for this namespace (called once, when
    /// recovery is on): in memory by default, which recovers clients that come back to
    /// this server. A cluster adapter returns a store that its servers share.
    fn session_store(&self, config: &ConnectionStateRecovery) -> Box<dyn SessionStore> {
        Box::new(MemorySessionStore::new(config))
    }

    /// Whether this adapter orders replayable packets itself, through a log its servers
    /// share (the Redis streams adapter). With connection state recovery on, the namespace
    /// then hands every replayable event (a broadcast or an event to one socket, neither
    /// volatile nor local, without acknowledgement) to [`broadcast`](Self::broadcast)
    /// instead of delivering it, and the adapter delivers it on every server, this one
    /// included, at its offset in the log with
    /// [`BroadcastOperator::emit_raw_at`](crate::BroadcastOperator::emit_raw_at); its
    /// [`session_store`](Self::session_store) takes given offsets
    /// ([`MemorySessionStore::sequenced`]). If `broadcast` fails, the event is delivered
    /// here at once, without an offset, and the emit returns the error.
    fn sequences_broadcasts(&self) -> bool {
        false
    }

    /// Fetches from the cluster's shared storage what restoring session `pid` for a client
    /// that reports `offset` needs, before the namespace's lock is taken;
    /// [`SessionStore::restore_fetched`] completes the restore under it. `None` (the
    /// default): the store answers from memory.
    fn fetch_session(
        &self,
        _config: &ConnectionStateRecovery,
        _pid: &str,
        _offset: Option<&str>,
    ) -> Option<SessionFetch> {
        None
    }

    /// Forwards `socketsJoin` to the other servers.
    fn add_sockets(&self, _namespace: &str, _target: &Target, _rooms: &[String]) {}

    /// Forwards `socketsLeave` to the other servers.
    fn del_sockets(&self, _namespace: &str, _target: &Target, _rooms: &[String]) {}

    /// Forwards `disconnectSockets` to the other servers.
    fn disconnect_sockets(&self, _namespace: &str, _target: &Target, _close: bool) {}

    /// Emits an event to the other servers' `on_server_side` handlers and collects their
    /// answers.
    fn server_side_emit(
        &self,
        _namespace: &str,
        _event: &str,
        _args: &Args,
    ) -> BoxFuture<Result<Vec<Args>, AdapterError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// The adapter of a single server: no other servers to reach.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalAdapter;

impl Adapter for LocalAdapter {}
