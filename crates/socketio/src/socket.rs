//! A client's socket in one namespace.

mod emitter;
mod handlers;
mod lifecycle;

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use engineio::TransportKind;
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_proto::{AckMap, Args, Encoded, Value, is_reserved_event};
use tokio::sync::oneshot;

use crate::broadcast::{AckCollector, BroadcastOperator};
use crate::connection::ConnShared;
use crate::delivery::{Recipients, Sequence};
use crate::dispatch::{Job, JobQueue};
use crate::error::{AckError, DisconnectReason, EmitError};
use crate::event::{AckSender, Event};
use crate::handler::{
    DisconnectHandler, EventHandler, HandlerOutput, PacketMiddleware, disconnect_handler,
    erase_event_handler,
};
use crate::handshake::Handshake;
pub use crate::id::SocketId;
use crate::namespace::{Namespace, NamespaceInner};
use crate::recovery::Recovery;
use crate::rooms::IntoRooms;
pub use emitter::SocketEmitter;
use handlers::{HandlerTable, Handlers};

/// Identifies a catch-all listener, to remove it with `off_any`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

static NEXT_LISTENER: AtomicU64 = AtomicU64::new(1);

impl ListenerId {
    fn next() -> Self {
        ListenerId(NEXT_LISTENER.fetch_add(1, Ordering::Relaxed))
    }
}

type AnyListener = Arc<dyn Fn(&Socket, &Event) + Send + Sync>;
type OutgoingListener = Arc<dyn Fn(&Socket, &str, &Args) + Send + Sync>;
type ErrorHandler = Arc<dyn Fn(&Socket, &(dyn std::error::Error + 'static)) + Send + Sync>;

/// Who waits for an acknowledgement from this socket.
pub(crate) enum AckWaiter {
    /// One `emit_with_ack`.
    Single(oneshot::Sender<Args>),
    /// A broadcast with acks, collecting one answer per socket.
    Broadcast(Arc<AckCollector>),
}

/// The listeners most sockets never register, boxed so that a socket without them
/// carries one pointer instead of six lists (144 bytes per connection).
#[derive(Default)]
struct Hooks {
    any: Vec<(ListenerId, AnyListener)>,
    outgoing: Vec<(ListenerId, OutgoingListener)>,
    middlewares: Vec<PacketMiddleware>,
    disconnecting: Vec<DisconnectHandler>,
    disconnect: Vec<DisconnectHandler>,
    errors: Vec<ErrorHandler>,
}

static NO_HOOKS: Hooks = Hooks {
    any: Vec::new(),
    outgoing: Vec::new(),
    middlewares: Vec::new(),
    disconnecting: Vec::new(),
    disconnect: Vec::new(),
    errors: Vec::new(),
};

struct State {
    handlers: HandlerTable,
    hooks: Option<Box<Hooks>>,
    acks: AckMap<AckWaiter>,
    data: Value,
    extensions: http::Extensions,
    /// The leave has been queued, for this reason.
    leaving: Option<DisconnectReason>,
    /// While a restored socket's missed packets are being sent: everything for it waits
    /// here behind them, in order.
    held: Option<VecDeque<Encoded>>,
    /// In the namespace's index (set with it, under this lock).
    in_namespace: bool,
    /// Rooms joined before the socket was in the namespace (by a middleware): joined
    /// with it, before the client hears that it is connected.
    pending_rooms: Vec<String>,
}

impl State {
    fn hooks(&self) -> &Hooks {
        self.hooks.as_deref().unwrap_or(&NO_HOOKS)
    }

    fn hooks_mut(&mut self) -> &mut Hooks {
        self.hooks.get_or_insert_with(Box::default)
    }
}

/// How a socket starts: fresh (the default) or restored by connection state recovery.
#[derive(Default)]
pub(crate) struct SocketInit {
    /// The previous id of a restored socket.
    pub(crate) id: Option<SocketId>,
    /// The private session id, with recovery on.
    pub(crate) pid: Option<String>,
    pub(crate) data: Value,
    pub(crate) last_sent: u64,
    pub(crate) created_at: u64,
    /// The store's offset when a restored socket's rooms last changed.
    pub(crate) rooms_changed_at: u64,
    pub(crate) recovery: Recovery,
    /// A restored socket's missed packets, sent after its `CONNECT`.
    pub(crate) held: Option<VecDeque<Encoded>>,
}

pub(crate) struct SocketInner {
    pub(crate) id: SocketId,
    pub(crate) ns: Arc<NamespaceInner>,
    pub(crate) conn: Arc<ConnShared>,
    handshake: Handshake,
    /// Joined, and not yet leaving.
    connected: AtomicBool,
    /// Any catch-all listener for outgoing packets (checked without the lock).
    has_outgoing: AtomicBool,
    state: Mutex<State>,
    pub(crate) queue: Arc<JobQueue>,
    /// Connection state recovery: the private session id (when on), the offset of the
    /// last replayable packet sent, the store's offset when the socket was created, and
    /// whether packets are held (see `State::held`).
    pid: Option<String>,
    last_sent: AtomicU64,
    created_at: AtomicU64,
    /// The store's offset when the socket last joined or left a room.
    rooms_changed_at: AtomicU64,
    holding: AtomicBool,
    recovery: Recovery,
}

/// A client's socket in one namespace: receive its events, emit to it, put it in rooms.
///
/// Cheap to clone; every clone is the same socket. Handlers registered with [`on`](Self::on)
/// run one event at a time, in the order the client sent them.
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("namespace", &self.0.ns.name)
            .field("connected", &self.connected())
            .finish()
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Socket {}

impl Socket {
    pub(crate) fn new(
        ns: Arc<NamespaceInner>,
        conn: Arc<ConnShared>,
        auth: Value,
        init: SocketInit,
    ) -> Socket {
        let config = &ns.config;
        let state = State {
            handlers: HandlerTable::default(),
            hooks: None,
            acks: AckMap::new(config.max_pending_acks),
            data: init.data,
            extensions: http::Extensions::new(),
            leaving: None,
            in_namespace: init.held.is_some(),
            held: init.held,
            pending_rooms: Vec::new(),
        };
        Socket(Arc::new(SocketInner {
            id: init.id.unwrap_or_else(SocketId::random),
            queue: JobQueue::new(config.max_pending_events),
            handshake: Handshake::new(conn.engine.clone(), auth),
            ns,
            conn,
            connected: AtomicBool::new(false),
            has_outgoing: AtomicBool::new(false),
            holding: AtomicBool::new(state.held.is_some()),
            state: Mutex::new(state),
            pid: init.pid,
            last_sent: AtomicU64::new(init.last_sent),
            created_at: AtomicU64::new(init.created_at),
            rooms_changed_at: AtomicU64::new(init.rooms_changed_at),
            recovery: init.recovery,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Handlers run outside this lock, so a panic cannot leave the state half-written.
        self.0.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The socket's id (also the name of the room it is always in).
    pub fn id(&self) -> SocketId {
        self.0.id
    }

    /// The namespace the socket is in.
    pub fn namespace(&self) -> Namespace {
        Namespace(self.0.ns.clone())
    }

    /// The client's handshake: headers, query, address, `auth` payload.
    pub fn handshake(&self) -> &Handshake {
        &self.0.handshake
    }

    /// Whether the socket is in its namespace (joined, and not disconnecting).
    pub fn connected(&self) -> bool {
        self.0.connected.load(Ordering::Acquire)
    }

    /// Whether the socket was restored by connection state recovery (Node's
    /// `socket.recovered`): same id, rooms and data as before its client's connection
    /// dropped, and the packets it missed replayed.
    pub fn recovered(&self) -> bool {
        matches!(self.0.recovery, Recovery::Recovered { .. })
    }

    /// How the socket came to be: not asked to recover, recovered, or asked and not
    /// recovered (with why, and what the previous session had).
    pub fn recovery(&self) -> &Recovery {
        &self.0.recovery
    }

    pub(crate) fn pid(&self) -> Option<&str> {
        self.0.pid.as_deref()
    }

    pub(crate) fn note_sent(&self, offset: u64) {
        self.0.last_sent.fetch_max(offset, Ordering::AcqRel);
    }

    pub(crate) fn last_sent(&self) -> u64 {
        self.0.last_sent.load(Ordering::Acquire)
    }

    pub(crate) fn created_at(&self) -> u64 {
        self.0.created_at.load(Ordering::Acquire)
    }

    pub(crate) fn set_created_at(&self, offset: u64) {
        self.0.created_at.store(offset, Ordering::Release);
    }

    pub(crate) fn rooms_changed_at(&self) -> u64 {
        self.0.rooms_changed_at.load(Ordering::Acquire)
    }

    pub(crate) fn set_rooms_changed_at(&self, offset: u64) {
        self.0.rooms_changed_at.store(offset, Ordering::Release);
    }

    pub(crate) fn has_outgoing_listeners(&self) -> bool {
        self.0.has_outgoing.load(Ordering::Acquire)
    }

    /// The transport the client's connection uses now.
    pub fn transport(&self) -> TransportKind {
        self.0.conn.engine.transport()
    }

    // ----- handlers -----

    /// Adds a handler for `event`; several handlers of one event run in the order they
    /// were added. See [`EventHandler`] for the shapes a handler can take.
    ///
    /// ```
    /// # use socketio::{Event, Socket};
    /// # fn register(socket: &Socket) {
    /// socket.on("chat", |socket: Socket, event: Event| async move {
    ///     let (text,): (String,) = event.args()?;
    ///     socket.broadcast().emit("chat", &(socket.id().as_str(), text))?;
    ///     event.ack(&"delivered")?;
    ///     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// });
    /// # }
    /// ```
    pub fn on<M, H: EventHandler<M>>(&self, event: impl Into<String>, handler: H) {
        let handler = erase_event_handler(handler);
        self.lock().handlers.add(event.into(), handler);
    }

    /// Removes every handler of `event`.
    pub fn off(&self, event: &str) {
        self.lock().handlers.remove(event);
    }

    /// Adds a listener called with every incoming event, before its handlers (Node's
    /// `onAny`). It runs on the connection's task: keep it short.
    pub fn on_any(&self, listener: impl Fn(&Socket, &Event) + Send + Sync + 'static) -> ListenerId {
        let id = ListenerId::next();
        self.lock().hooks_mut().any.push((id, Arc::new(listener)));
        id
    }

    /// Like [`on_any`](Self::on_any), but runs before the listeners already added.
    pub fn prepend_any(
        &self,
        listener: impl Fn(&Socket, &Event) + Send + Sync + 'static,
    ) -> ListenerId {
        let id = ListenerId::next();
        self.lock()
            .hooks_mut()
            .any
            .insert(0, (id, Arc::new(listener)));
        id
    }

    /// Removes one catch-all listener, or all of them with `None`.
    pub fn off_any(&self, listener: Option<ListenerId>) {
        if let Some(hooks) = self.lock().hooks.as_deref_mut() {
            match listener {
                Some(id) => hooks.any.retain(|(other, _)| *other != id),
                None => hooks.any.clear(),
            }
        }
    }

    /// Adds a listener called with every packet emitted to this socket, by it or by a
    /// broadcast (Node's `onAnyOutgoing`).
    pub fn on_any_outgoing(
        &self,
        listener: impl Fn(&Socket, &str, &Args) + Send + Sync + 'static,
    ) -> ListenerId {
        let id = ListenerId::next();
        let mut state = self.lock();
        state.hooks_mut().outgoing.push((id, Arc::new(listener)));
        self.0.has_outgoing.store(true, Ordering::Release);
        id
    }

    /// Like [`on_any_outgoing`](Self::on_any_outgoing), but runs before the others.
    pub fn prepend_any_outgoing(
        &self,
        listener: impl Fn(&Socket, &str, &Args) + Send + Sync + 'static,
    ) -> ListenerId {
        let id = ListenerId::next();
        let mut state = self.lock();
        state
            .hooks_mut()
            .outgoing
            .insert(0, (id, Arc::new(listener)));
        self.0.has_outgoing.store(true, Ordering::Release);
        id
    }

    /// Removes one outgoing listener, or all of them with `None`.
    pub fn off_any_outgoing(&self, listener: Option<ListenerId>) {
        let mut state = self.lock();
        if let Some(hooks) = state.hooks.as_deref_mut() {
            match listener {
                Some(id) => hooks.outgoing.retain(|(other, _)| *other != id),
                None => hooks.outgoing.clear(),
            }
        }
        self.0
            .has_outgoing
            .store(!state.hooks().outgoing.is_empty(), Ordering::Release);
    }

    /// Adds a packet middleware (Node's `socket.use`): it sees each incoming event before
    /// the handlers and returns it (possibly changed) or refuses it. A refused event is
    /// not handled; the error goes to the [`on_error`](Self::on_error) listeners.
    pub fn middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Event, Box<dyn std::error::Error + Send + Sync>>>
            + Send
            + 'static,
    {
        let middleware: PacketMiddleware =
            Arc::new(move |socket, event| Box::pin(middleware(socket, event)));
        self.lock().hooks_mut().middlewares.push(middleware);
    }

    /// Runs when the socket is leaving, while it is still in its rooms.
    pub fn on_disconnecting<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        self.lock()
            .hooks_mut()
            .disconnecting
            .push(disconnect_handler(handler));
    }

    /// Runs when the socket has left its namespace.
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        self.lock()
            .hooks_mut()
            .disconnect
            .push(disconnect_handler(handler));
    }

    /// Receives errors about this socket: events refused by a packet middleware, and
    /// arguments that did not fit a typed handler.
    pub fn on_error(
        &self,
        handler: impl Fn(&Socket, &(dyn std::error::Error + 'static)) + Send + Sync + 'static,
    ) {
        self.lock().hooks_mut().errors.push(Arc::new(handler));
    }

    pub(crate) fn report_error(&self, error: &(dyn std::error::Error + 'static)) {
        let handlers = self.lock().hooks().errors.clone();
        for handler in handlers {
            handler(self, error);
        }
    }

    // ----- emitting -----

    /// Emits an event to this socket's client. `args` is spread into arguments: a tuple
    /// gives one argument per element, `()` none, anything else one (`bytes::Bytes`
    /// anywhere inside travels as binary).
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        self.emitter().emit(event, args)
    }

    /// Emits an event whose arguments are forwarded as received (no re-encoding).
    pub fn emit_raw(&self, event: &str, args: &Args) -> Result<(), EmitError> {
        self.emitter().emit_raw(event, args)
    }

    /// Emits an event and waits for the client's acknowledgement (at most the server's
    /// ack timeout; see [`timeout`](Self::timeout)). The answer's first argument is
    /// deserialised as `R` (`()` if there is none); use
    /// [`emit_with_ack_raw`](Self::emit_with_ack_raw) for all of them.
    pub async fn emit_with_ack<R, T>(&self, event: &str, args: &T) -> Result<R, AckError>
    where
        R: DeserializeOwned,
        T: Serialize + ?Sized,
    {
        self.emitter().emit_with_ack(event, args).await
    }

    /// Emits an event and waits for the acknowledgement, returning all its arguments.
    pub async fn emit_with_ack_raw<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<Args, AckError> {
        self.emitter().emit_with_ack_raw(event, args).await
    }

    /// Emits arguments as received (a relay's, say) and waits for the acknowledgement,
    /// returning all its arguments.
    pub async fn emit_raw_with_ack(&self, event: &str, args: &Args) -> Result<Args, AckError> {
        self.emitter().emit_raw_with_ack(event, args).await
    }

    fn emitter(&self) -> SocketEmitter<'_> {
        SocketEmitter {
            socket: self,
            volatile: false,
            timeout: None,
        }
    }

    /// The next emit is dropped if the client cannot take it at once.
    pub fn volatile(&self) -> SocketEmitter<'_> {
        self.emitter().volatile()
    }

    /// The next `emit_with_ack` waits at most `timeout`.
    pub fn timeout(&self, timeout: Duration) -> SocketEmitter<'_> {
        self.emitter().timeout(timeout)
    }

    /// Accepted for compatibility with Node's API; per-message compression is off (as it
    /// is by default in Node), so this changes nothing.
    pub fn compress(&self, _compress: bool) -> SocketEmitter<'_> {
        self.emitter()
    }

    /// Calls the outgoing listeners with the event of `encoded`, decoding it back only if
    /// there are listeners.
    pub(crate) fn notify_outgoing(&self, event: &str, args: &dyn Fn() -> Option<Args>) {
        if !self.0.has_outgoing.load(Ordering::Acquire) {
            return;
        }
        let listeners: Vec<_> = self
            .lock()
            .hooks()
            .outgoing
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        if let Some(args) = args() {
            for listener in listeners {
                listener(self, event, &args);
            }
        }
    }

    pub(crate) fn send_ack<T: Serialize + ?Sized>(
        &self,
        id: u64,
        args: &T,
    ) -> Result<(), EmitError> {
        let encoded = self
            .0
            .ns
            .config
            .parser
            .encode_ack(&self.0.ns.name, id, args)?;
        self.send_owned(encoded, false)
    }

    pub(crate) fn send_ack_raw(&self, id: u64, args: &Args) -> Result<(), EmitError> {
        let encoded = self
            .0
            .ns
            .config
            .parser
            .encode_ack_args(&self.0.ns.name, id, args)?;
        self.send_owned(encoded, false)
    }

    /// Number of acknowledgements this socket's client owes (emits waiting for an answer);
    /// bounded by the server's `max_pending_acks`.
    pub fn pending_acks(&self) -> usize {
        self.lock().acks.len()
    }

    pub(crate) fn register_ack(&self, id: u64, waiter: AckWaiter) -> Result<(), AckError> {
        self.lock()
            .acks
            .insert(id, waiter)
            .map_err(|_| AckError::TooManyPending)
    }

    pub(crate) fn unregister_ack(&self, id: u64) {
        self.lock().acks.take(id);
    }

    // ----- rooms -----

    /// Puts the socket in these rooms. Called from a middleware, before the socket is
    /// connected, it joins them with the namespace, before its client hears that it is
    /// connected (so that nothing sent to those rooms in between is missed).
    pub fn join(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        {
            let mut state = self.lock();
            if state.leaving.is_some() {
                return;
            }
            if !state.in_namespace {
                // A middleware: the rooms are joined with the namespace.
                state.pending_rooms.extend(rooms);
                return;
            }
        }
        self.0.ns.join(self.0.id, rooms);
    }

    /// For the namespace, as it adds the socket: marks it added and takes the rooms
    /// joined before.
    pub(crate) fn enter_namespace(&self) -> Vec<String> {
        let mut state = self.lock();
        state.in_namespace = true;
        std::mem::take(&mut state.pending_rooms)
    }

    /// Takes the socket out of a room.
    pub fn leave(&self, room: &str) {
        self.0.ns.leave(self.0.id, room);
    }

    /// The rooms the socket is in (its own id room included).
    pub fn rooms(&self) -> Vec<String> {
        self.0.ns.socket_rooms(self.0.id)
    }

    /// Emits to the sockets in these rooms, this one excluded (Node's `socket.to`).
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`to`](Self::to) (Node's `socket.in`).
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Emits to every socket of the namespace but those in these rooms, this one excluded.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Emits to every other socket of the namespace (Node's `socket.broadcast`).
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.ns.clone()).except(self.0.id.as_str())
    }

    // ----- data -----

    /// The socket's data as `T`, if set and of that shape. The data travels with the
    /// socket's description in `fetch_sockets`.
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        let value = self.lock().data.clone();
        if value == Value::Null {
            return None;
        }
        value.deserialize_into().ok()
    }

    /// The socket's data as a value.
    pub fn data_value(&self) -> Value {
        self.lock().data.clone()
    }

    /// Sets the socket's data.
    pub fn set_data<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), EmitError> {
        let value = Value::from_serialize(data)
            .map_err(|error| EmitError::Encode(socketio_proto::EncodeError::new(error)))?;
        self.lock().data = value;
        Ok(())
    }

    /// A copy of an extension of type `T`: local state of any type (not sent anywhere).
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.lock().extensions.get::<T>().cloned()
    }

    /// Stores an extension, replacing the one of the same type.
    pub fn insert_extension<T: Clone + Send + Sync + 'static>(&self, value: T) {
        self.lock().extensions.insert(value);
    }

    // ----- leaving -----

    /// Makes the socket leave its namespace (reason `server namespace disconnect`); the
    /// connection stays open for the client's other namespaces.
    pub fn disconnect(&self) {
        if !self.connected() {
            return;
        }
        let encoded = self.0.ns.config.parser.encode_disconnect(&self.0.ns.name);
        let _ = self.0.conn.send(&encoded, false);
        self.leave_namespace(DisconnectReason::ServerNamespaceDisconnect);
    }

    /// Closes the client's whole connection, every namespace included (Node's
    /// `socket.disconnect(true)`; reason `forced server close`).
    pub fn disconnect_connection(&self) {
        self.0.conn.disconnect_all();
    }
}
