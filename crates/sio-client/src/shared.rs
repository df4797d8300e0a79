//! The state a manager's handles and its driver share, and the handles themselves as
//! data: the handles' methods live in `manager.rs` and `socket.rs`, the driver in
//! `driver.rs`, and all of them stand on this, which stands on the core.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use atomic_waker::AtomicWaker;
use engineio_proto::Timestamp;
use socketio_proto::Args;

use crate::core::{ManagerCore, SocketKey};
use crate::error::AckError;
use crate::event::{ConnectError, DisconnectReason, ManagerEvent};
use crate::listeners::{Entry, List, ListenerId};
use crate::options::{Auth, ManagerOptions};
use crate::platform::shared_fn;
use crate::runtime::Clock;

/// What wakes the caller of an emit that waits for an acknowledgement.
pub(crate) type Waiter = futures_channel::oneshot::Sender<Result<Args, AckError>>;

/// The state of one manager, shared by its driver and its handles. Locks are taken for
/// short, synchronous steps and never across an `.await`; none is held while a listener
/// runs.
pub(crate) struct ManagerShared {
    pub(crate) core: Mutex<ManagerCore<Waiter>>,
    pub(crate) sockets: Mutex<Vec<Arc<SocketShared>>>,
    pub(crate) listeners: Mutex<ManagerListeners>,
    /// The driver's waker: handles wake it after changing the core.
    pub(crate) waker: AtomicWaker,
    pub(crate) clock: Clock,
    pub(crate) options: ManagerOptions,
    /// The handles' shared token, while any handle lives.
    pub(crate) token: Mutex<Weak<HandleToken>>,
    /// Set when the last handle is dropped: the driver closes the connection and ends.
    pub(crate) abandoned: AtomicBool,
    /// Set when a handle changed the core: the driver, woken, has work; a wake-up without
    /// it (a transport's) skips the core's lock.
    pub(crate) changed: AtomicBool,
    /// Set when the driver's task is gone: emits fail at once.
    pub(crate) dead: AtomicBool,
}

/// What a socket's handles and the driver share, apart from the core.
pub(crate) struct SocketShared {
    pub(crate) key: SocketKey,
    pub(crate) nsp: String,
    pub(crate) auth: Auth,
    pub(crate) listeners: Mutex<SocketListeners>,
}

/// Held by every handle of a manager and of its sockets; the last one dropped ends the
/// connection.
pub(crate) struct HandleToken {
    pub(crate) shared: Arc<ManagerShared>,
}

impl Drop for HandleToken {
    fn drop(&mut self) {
        self.shared.abandoned.store(true, Ordering::Release);
        self.shared.changed.store(true, Ordering::Release);
        self.shared.waker.wake();
    }
}

/// A poisoned lock means a listener panicked while the state was consistent (no lock is
/// held while one runs): carry on with it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ManagerShared {
    /// Runs `f` on the core at the current time, then wakes the driver.
    pub(crate) fn with_core<R>(
        &self,
        f: impl FnOnce(&mut ManagerCore<Waiter>, Timestamp) -> R,
    ) -> R {
        let now = self.clock.now();
        let result = f(&mut lock(&self.core), now);
        self.changed.store(true, Ordering::Release);
        self.waker.wake();
        result
    }

    pub(crate) fn socket(&self, key: SocketKey) -> Arc<SocketShared> {
        lock(&self.sockets)[key].clone()
    }
}

/// One connection to a Socket.IO server (the official client's `Manager`), shared by the
/// sockets of its namespaces. It reconnects by itself after a lost connection, with
/// exponential backoff.
///
/// Handles are cheap to clone. The connection lives while any handle of the manager or of
/// one of its sockets does: when the last is dropped, it closes and no listener is called
/// any more. (A listener should reach its socket through its argument, not keep a handle
/// of its own, or the connection outlives every other handle.)
#[derive(Clone)]
pub struct Manager {
    pub(crate) token: Arc<HandleToken>,
}

/// A socket of one namespace (the official client's `Socket`).
///
/// Handles are cheap to clone and all name the same socket. Listeners are called on the
/// connection's task, one at a time, in the order events arrived: a listener that has slow
/// work to do spawns it (and answers an acknowledgement later through
/// [`Event::ack_sender`]).
#[derive(Clone)]
pub struct Socket {
    pub(crate) token: Arc<HandleToken>,
    pub(crate) socket: Arc<SocketShared>,
}

impl Socket {
    pub(crate) fn new(token: Arc<HandleToken>, socket: Arc<SocketShared>) -> Self {
        Socket { token, socket }
    }
}

/// An event the server sent.
#[derive(Clone)]
pub struct Event {
    pub(crate) socket: Socket,
    pub(crate) name: String,
    pub(crate) args: Args,
    pub(crate) ack: Option<AckSender>,
}

/// Answers one event of the server; only the first answer is sent.
#[derive(Clone)]
pub struct AckSender {
    pub(crate) socket: Socket,
    pub(crate) id: u64,
    /// The Engine.IO session the event came in: after a reconnection the id means nothing.
    pub(crate) session: u64,
    pub(crate) sent: Arc<AtomicBool>,
}

shared_fn!(
    /// A listener of incoming events.
    EventFn = Fn(&Event)
);
shared_fn!(
    /// A listener of outgoing events.
    OutgoingFn = Fn(&Socket, &str, &Args)
);
shared_fn!(
    /// A listener of `connect`.
    ConnectFn = Fn(&Socket)
);
shared_fn!(
    /// A listener of `disconnect`.
    DisconnectFn = Fn(&Socket, DisconnectReason)
);
shared_fn!(
    /// A listener of `connect_error`.
    ConnectErrorFn = Fn(&Socket, &ConnectError)
);
shared_fn!(
    /// A listener of a manager's events.
    ManagerFn = Fn(&ManagerEvent)
);

/// Everything listening to one socket.
#[derive(Default)]
pub(crate) struct SocketListeners {
    next_id: u64,
    pub(crate) events: HashMap<String, List<EventFn>>,
    pub(crate) any: List<EventFn>,
    pub(crate) any_outgoing: List<OutgoingFn>,
    pub(crate) connect: List<ConnectFn>,
    pub(crate) disconnect: List<DisconnectFn>,
    pub(crate) connect_error: List<ConnectErrorFn>,
}

impl SocketListeners {
    pub(crate) fn next_id(&mut self) -> ListenerId {
        self.next_id += 1;
        ListenerId(self.next_id)
    }

    /// Removes the listener `id`, wherever it is.
    pub(crate) fn remove(&mut self, id: ListenerId) -> bool {
        let mut removed = false;
        self.events.retain(|_, list| {
            removed |= list.remove(id);
            !list.is_empty()
        });
        removed
            || self.any.remove(id)
            || self.any_outgoing.remove(id)
            || self.connect.remove(id)
            || self.disconnect.remove(id)
            || self.connect_error.remove(id)
    }
}

/// Everything listening to one manager.
#[derive(Default)]
pub(crate) struct ManagerListeners {
    next_id: u64,
    pub(crate) events: List<ManagerFn>,
}

impl ManagerListeners {
    pub(crate) fn add(&mut self, f: ManagerFn) -> ListenerId {
        self.next_id += 1;
        let id = ListenerId(self.next_id);
        self.events.push(Entry { id, once: false, f }, false);
        id
    }
}
