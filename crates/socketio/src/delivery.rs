//! How events reach a namespace's sockets, and how sockets enter and leave it; with
//! connection state recovery on, in offset order, through the namespace's session store.
//!
//! Offsets must follow delivery order for each socket: a client reports the last offset
//! it received and is replayed everything after it, so a packet with a lower offset
//! arriving after a higher one would be lost, or replayed twice. Taking an offset, storing
//! the packet and queueing it for its recipients therefore happen under one lock per
//! namespace, which also covers joins, leaves and restores. Without recovery there is no
//! such lock.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use socketio_proto::{Args, Encoded, Value};

use crate::adapter::SessionFetch;
use crate::connection::ConnShared;
use crate::error::{DisconnectReason, EmitError};
use crate::namespace::NamespaceInner;
use crate::recovery::{FetchedSession, PersistedSession, Recovery, RestoreFailure, SessionStore};
use crate::rooms::{RoomEvent, RoomIndex, Target};
use crate::socket::{Socket, SocketId, SocketInit};

/// The recovery state of a namespace, behind its delivery lock.
pub(crate) struct Recovering {
    store: Box<dyn SessionStore>,
    /// Connected sockets by private session id: a client that reconnects before its old
    /// connection is known to be dead takes its session over.
    live: HashMap<String, Socket>,
}

impl Recovering {
    pub(crate) fn new(store: Box<dyn SessionStore>) -> Mutex<Self> {
        Mutex::new(Recovering {
            store,
            live: HashMap::new(),
        })
    }
}

/// Where a replayable event's offset comes from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sequence {
    /// The store's next one.
    Next,
    /// Given by an adapter that sequences broadcasts (its place in the shared log).
    At(u64),
    /// None: delivered now, not replayable (a local-only event where the adapter
    /// sequences, or one it could not take).
    Unstored,
}

/// Who an event goes to.
pub(crate) enum Recipients<'a> {
    /// This server's sockets that a target designates.
    Local(&'a Target),
    /// One socket.
    Socket(&'a Socket),
}

/// Whether a socket that left for this reason keeps its session for recovery (Node's
/// list: the connection was lost or closed by the server, not a deliberate leave).
fn is_recoverable(reason: DisconnectReason) -> bool {
    matches!(
        reason,
        DisconnectReason::TransportError
            | DisconnectReason::TransportClose
            | DisconnectReason::ForcedClose
            | DisconnectReason::PingTimeout
            | DisconnectReason::ServerShuttingDown
            | DisconnectReason::ForcedServerClose
            // A client that read too slowly may come back and catch up.
            | DisconnectReason::BufferFull
    )
}

fn random_pid() -> String {
    SocketId::random().as_str().to_owned()
}

impl NamespaceInner {
    fn recovering(&self) -> Option<MutexGuard<'_, Recovering>> {
        let state = self.recovering.get_or_init(|| {
            let config = self.config.recovery.as_ref()?;
            Some(Recovering::new(self.adapter().session_store(config)))
        });
        // The critical sections leave the state consistent at every step.
        state
            .as_ref()
            .map(|state| state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether replayable events go through the adapter's log rather than straight to the
    /// sockets ([`Adapter::sequences_broadcasts`](crate::Adapter::sequences_broadcasts)).
    pub(crate) fn sequences(&self) -> bool {
        self.config.recovery.is_some() && self.adapter().sequences_broadcasts()
    }

    /// Sends an event (without acknowledgement) to its recipients; with recovery on, gives
    /// it its offset (as `sequence` says) and stores it first unless it is volatile.
    /// Returns how many sockets it was queued for; for one socket, the socket's error if
    /// it was not.
    pub(crate) fn deliver_event(
        &self,
        to: Recipients<'_>,
        encoded: &Encoded,
        volatile: bool,
        sequence: Sequence,
        event: &str,
        args: &dyn Fn() -> Option<Args>,
    ) -> Result<usize, EmitError> {
        let mut listening: Vec<Socket> = Vec::new();
        let mut reached = 0;
        let mut result = Ok(());
        {
            let mut recovering = self.recovering();
            let mut offset = None;
            let taken = match (recovering.as_deref_mut(), sequence) {
                (Some(recovering), Sequence::Next) if !volatile => {
                    Some(recovering.store.next_offset())
                }
                (Some(recovering), Sequence::At(at)) if !volatile => {
                    recovering.store.take_offset(at).map(|text| (at, text))
                }
                _ => None,
            };
            let packet = match (recovering.as_deref_mut(), taken) {
                (None, _) => Cow::Borrowed(encoded),
                (Some(recovering), None) => {
                    let current = recovering.store.current_offset();
                    Cow::Owned(self.config.parser.with_trailing_str(encoded, &current)?)
                }
                (Some(recovering), Some((next, text))) => {
                    let packet = self.config.parser.with_trailing_str(encoded, &text)?;
                    let own_room;
                    let target = match &to {
                        Recipients::Local(target) => *target,
                        Recipients::Socket(socket) => {
                            own_room = Target {
                                rooms: vec![socket.id().as_str().to_owned()],
                                except: Vec::new(),
                            };
                            &own_room
                        }
                    };
                    recovering
                        .store
                        .store(next, target, &packet, Instant::now());
                    offset = Some(next);
                    Cow::Owned(packet)
                }
            };
            // Without recovery no lock is held while sending, and an idle recipient's
            // session gets the packet written at once (a system call). With recovery the
            // delivery lock is held throughout, to keep broadcasts in their offsets' order
            // and apart from restores: the packets are then only queued, or reconnecting
            // clients wait for every write of every broadcast (`bench/churn.sh`: delivery
            // delays of 3.5-7 s at p99 instead of 0.3 s).
            let write = recovering.is_none();
            let mut send = |socket: &Socket| {
                if socket.has_outgoing_listeners() {
                    listening.push(socket.clone());
                }
                if let Some(offset) = offset {
                    socket.note_sent(offset);
                }
                let sent = if write {
                    socket.send(&packet, volatile)
                } else {
                    socket.send_enqueued(&packet, volatile)
                };
                if offset.is_some() && matches!(sent, Err(EmitError::BufferFull)) {
                    // Whatever the slow-consumer policy, a replayable packet that did not
                    // go out closes the connection: the client then recovers it, where
                    // carrying on would let its next offset skip the gap.
                    socket.0.conn.close(DisconnectReason::BufferFull);
                }
                sent
            };
            match to {
                // Written outside the index's lock, which joins and leaves wait on.
                Recipients::Local(target) if write => {
                    for socket in &self.local_sockets(target) {
                        if send(socket).is_ok() {
                            reached += 1;
                        }
                    }
                }
                Recipients::Local(target) => self.for_each_local(target, |socket| {
                    // A full buffer is handled by the slow-consumer policy, a closed socket
                    // by its connection: neither concerns the other recipients.
                    if send(socket).is_ok() {
                        reached += 1;
                    }
                }),
                Recipients::Socket(socket) => {
                    result = send(socket);
                    reached = usize::from(result.is_ok());
                }
            }
        }
        // Listeners are application code: called outside the locks.
        if !listening.is_empty() {
            let args = args();
            if let Some(args) = &args {
                for socket in listening {
                    socket.notify_outgoing(event, &|| Some(args.clone()));
                }
            }
        }
        result.map(|()| reached)
    }

    /// A socket for a client joining the namespace: restored from its session if it asks
    /// and recovery allows, otherwise fresh. A restored socket is back in its rooms at
    /// once, its missed packets held for it until its join completes.
    ///
    /// `fetched` is what the adapter fetched from the cluster's shared storage for this
    /// restore ([`prefetch`](Self::prefetch)), if it did.
    pub(crate) fn admit(
        self: &std::sync::Arc<Self>,
        conn: std::sync::Arc<ConnShared>,
        auth: Value,
        fetched: Option<Result<FetchedSession, RestoreFailure>>,
    ) -> Socket {
        let Some(mut recovering) = self.recovering() else {
            return Socket::new(self.clone(), conn, auth, SocketInit::default());
        };
        let pid = auth.get("pid").and_then(Value::as_str).map(str::to_owned);
        let Some(pid) = pid else {
            drop(recovering);
            let init = SocketInit {
                pid: Some(random_pid()),
                ..SocketInit::default()
            };
            return Socket::new(self.clone(), conn, auth, init);
        };
        let offset = auth
            .get("offset")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let now = Instant::now();
        let mut events = Vec::new();
        let taken_over = match recovering.live.get(&pid) {
            // A socket leaving on purpose (made to leave by the server, or its client
            // left) ends its session: coming back with its pid must not undo that.
            Some(old)
                if old
                    .leaving_for()
                    .is_some_and(|reason| !is_recoverable(reason)) =>
            {
                None
            }
            _ => recovering.live.remove(&pid),
        };
        if let Some(old) = &taken_over {
            // Its client is here again: the old connection is dead and does not know yet.
            self.detach(&mut recovering, old, now, &mut events);
        }
        let restored = match fetched {
            Some(fetched) => {
                recovering
                    .store
                    .restore_fetched(&pid, offset.as_deref(), fetched, now)
            }
            None => recovering.store.restore(&pid, offset.as_deref(), now),
        };
        let socket = match restored {
            Ok(restored) => {
                let session = restored.session;
                let replayed = restored.missed.len();
                let init = SocketInit {
                    id: Some(session.id),
                    pid: Some(pid.clone()),
                    data: session.data,
                    last_sent: session.last_sent.max(restored.last_missed),
                    created_at: session.created_at,
                    rooms_changed_at: session.rooms_changed_at,
                    recovery: Recovery::Recovered { replayed },
                    held: Some(VecDeque::from(restored.missed)),
                };
                let socket = Socket::new(self.clone(), conn, auth, init);
                let mut index = self.write_index();
                index.sockets.insert(session.id, socket.clone());
                index.join(session.id, &session.rooms, &mut events);
                drop(index);
                recovering.live.insert(pid, socket.clone());
                socket
            }
            Err(RestoreFailure { error, previous }) => {
                tracing::debug!(%error, "connection state not recovered");
                let init = SocketInit {
                    pid: Some(random_pid()),
                    recovery: Recovery::Failed { error, previous },
                    ..SocketInit::default()
                };
                Socket::new(self.clone(), conn, auth, init)
            }
        };
        drop(recovering);
        self.fire(events);
        if let Some(old) = taken_over {
            old.leave_namespace(DisconnectReason::TransportClose);
        }
        socket
    }

    /// What the adapter must fetch before a client asking to recover its session is
    /// admitted (a cluster's shared storage), if anything.
    pub(crate) fn prefetch(&self, auth: &Value) -> Option<SessionFetch> {
        let config = self.config.recovery.as_ref()?;
        let pid = auth.get("pid").and_then(Value::as_str)?;
        let offset = auth.get("offset").and_then(Value::as_str);
        self.adapter().fetch_session(config, pid, offset)
    }

    /// Takes a connected socket out of the index and keeps its session.
    fn detach(
        &self,
        recovering: &mut Recovering,
        socket: &Socket,
        now: Instant,
        events: &mut Vec<RoomEvent>,
    ) {
        let Some(rooms) = self.take_out(socket, events) else {
            return;
        };
        if let Some(session) = socket.session(rooms, recovering.store.last_offset()) {
            recovering.store.persist(session, now);
        }
    }

    /// Removes `socket` from the index if it is there (and not a newer socket with its
    /// id); returns the rooms it was in.
    fn take_out(&self, socket: &Socket, events: &mut Vec<RoomEvent>) -> Option<Vec<String>> {
        let mut index = self.write_index();
        let id = socket.id();
        if index.sockets.get(&id) != Some(socket) {
            return None;
        }
        let rooms = index.rooms_of(id);
        index.remove(id, events);
        Some(rooms)
    }

    /// Adds a socket whose join was accepted, in its own room. A restored socket is in
    /// the index already.
    pub(crate) fn add(&self, socket: &Socket) {
        let id = socket.id();
        let mut events = Vec::new();
        {
            let mut recovering = self.recovering();
            let mut index = self.write_index();
            if index.sockets.get(&id) != Some(socket) {
                index.sockets.insert(id, socket.clone());
                let mut rooms = vec![id.as_str().to_owned()];
                rooms.extend(socket.enter_namespace());
                index.join(id, &rooms, &mut events);
                if let Some(recovering) = recovering.as_deref_mut() {
                    socket.set_created_at(recovering.store.last_offset());
                }
            }
            drop(index);
            if let (Some(recovering), Some(pid)) = (recovering.as_deref_mut(), socket.pid()) {
                recovering.live.insert(pid.to_owned(), socket.clone());
            }
        }
        self.fire(events);
    }

    /// Removes a socket that leaves for `reason`; with recovery on and a reason that
    /// allows it, keeps its session.
    /// Changes one socket's rooms. With recovery on, this happens under the delivery lock,
    /// between two packets, and the socket notes the offset of the change: a replay by
    /// rooms is only sound after it.
    pub(crate) fn change_rooms(
        &self,
        id: SocketId,
        change: impl FnOnce(&mut RoomIndex<Socket>, &mut Vec<RoomEvent>),
    ) {
        let mut events = Vec::new();
        {
            let recovering = self.recovering();
            let mut index = self.write_index();
            change(&mut index, &mut events);
            if let Some(recovering) = &recovering
                && let Some(socket) = index.sockets.get(&id)
            {
                socket.set_rooms_changed_at(recovering.store.last_offset());
            }
        }
        self.fire(events);
    }

    pub(crate) fn remove(&self, socket: &Socket, reason: DisconnectReason) {
        let mut events = Vec::new();
        let empty = {
            let mut recovering = self.recovering();
            let rooms = self.take_out(socket, &mut events);
            if let Some(recovering) = recovering.as_deref_mut() {
                if let Some(pid) = socket.pid()
                    && recovering.live.get(pid) == Some(socket)
                {
                    recovering.live.remove(pid);
                }
                if let Some(rooms) = rooms
                    && is_recoverable(reason)
                    && let Some(session) = socket.session(rooms, recovering.store.last_offset())
                {
                    recovering.store.persist(session, Instant::now());
                }
            }
            self.read_index().sockets.is_empty()
        };
        self.fire(events);
        if empty {
            self.on_last_socket_left();
        }
    }
}

impl Socket {
    /// The session to keep for this socket, which left when the store's offset was
    /// `left_at`, in `rooms`.
    fn session(&self, rooms: Vec<String>, left_at: u64) -> Option<PersistedSession> {
        Some(PersistedSession {
            pid: self.pid()?.to_owned(),
            id: self.id(),
            rooms,
            data: self.data_value(),
            last_sent: self.last_sent(),
            created_at: self.created_at(),
            left_at,
            rooms_changed_at: self.rooms_changed_at(),
        })
    }
}
