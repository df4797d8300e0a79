//! Namespaces: the channels a connection multiplexes, each with its handlers, sockets and
//! rooms; and dynamic namespaces, created on demand by a predicate.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_proto::{Args, Value};

use crate::adapter::{Adapter, AdapterError, LocalAdapter, Target};
use crate::broadcast::{BroadcastOperator, RemoteSocket};
use crate::config::Config;
use crate::delivery::Recovering;
use crate::error::{ConnectError, EmitError};
use crate::handler::{
    ConnectionHandler, HandlerOutput, Middleware, connection_handler, middleware,
};
use crate::rooms::{IntoRooms, RoomEvent, RoomIndex};
use crate::socket::{Socket, SocketId};

type RoomListener = Arc<dyn Fn(&RoomEvent) + Send + Sync>;
pub(crate) type EmptyHook = Box<dyn Fn(&str) + Send + Sync>;
type ServerSideHandler = Arc<dyn Fn(&Args) -> Option<Args> + Send + Sync>;

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // Every critical section here is a few map operations that leave the maps consistent.
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// Handlers shared by a namespace and, for dynamic namespaces, by their parent.
#[derive(Default)]
pub(crate) struct Handlers {
    connection: RwLock<Vec<ConnectionHandler>>,
    middlewares: RwLock<Vec<Middleware>>,
}

pub(crate) struct NamespaceInner {
    pub(crate) name: String,
    pub(crate) config: Arc<Config>,
    /// Called with the namespace's name when a dynamic namespace's last socket leaves and
    /// empty child namespaces are cleaned up.
    on_empty: Option<EmptyHook>,
    handlers: Handlers,
    parent: Option<Arc<ParentInner>>,
    room_listeners: RwLock<Vec<RoomListener>>,
    server_side: RwLock<HashMap<String, Vec<ServerSideHandler>>>,
    index: RwLock<RoomIndex<Socket>>,
    adapter: OnceLock<Arc<dyn Adapter>>,
    /// Connection state recovery, when on (created with the adapter's store on first use).
    pub(crate) recovering: OnceLock<Option<Mutex<Recovering>>>,
    next_ack: AtomicU64,
}

/// A namespace: a channel of its own on the connections of the clients that join it, with
/// its handlers, its sockets and its rooms. Cheap to clone.
#[derive(Clone)]
pub struct Namespace(pub(crate) Arc<NamespaceInner>);

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.0.name)
            .field("sockets", &self.socket_count())
            .finish()
    }
}

impl NamespaceInner {
    pub(crate) fn new(
        name: String,
        config: Arc<Config>,
        on_empty: Option<EmptyHook>,
        parent: Option<Arc<ParentInner>>,
    ) -> Arc<Self> {
        Arc::new(NamespaceInner {
            name,
            config,
            on_empty,
            handlers: Handlers::default(),
            parent,
            room_listeners: RwLock::default(),
            server_side: RwLock::default(),
            index: RwLock::default(),
            adapter: OnceLock::new(),
            recovering: OnceLock::new(),
            next_ack: AtomicU64::new(0),
        })
    }

    pub(crate) fn set_adapter(&self, adapter: Arc<dyn Adapter>) {
        let _ = self.adapter.set(adapter);
    }

    pub(crate) fn adapter(&self) -> Arc<dyn Adapter> {
        self.adapter.get_or_init(|| Arc::new(LocalAdapter)).clone()
    }

    /// Ack ids are shared by the namespace's sockets so that a broadcast uses one id.
    pub(crate) fn next_ack_id(&self) -> u64 {
        self.next_ack.fetch_add(1, Ordering::Relaxed)
    }

    /// The middlewares to run for a join: the parent's (dynamic namespaces), then its own.
    pub(crate) fn middlewares(&self) -> Vec<Middleware> {
        let mut all = self
            .parent
            .as_ref()
            .map(|parent| read(&parent.handlers.middlewares).clone())
            .unwrap_or_default();
        all.extend(read(&self.handlers.middlewares).iter().cloned());
        all
    }

    pub(crate) fn connection_handlers(&self) -> Vec<ConnectionHandler> {
        let mut all = self
            .parent
            .as_ref()
            .map(|parent| read(&parent.handlers.connection).clone())
            .unwrap_or_default();
        all.extend(read(&self.handlers.connection).iter().cloned());
        all
    }

    pub(crate) fn fire(&self, events: Vec<RoomEvent>) {
        if events.is_empty() {
            return;
        }
        let listeners = read(&self.room_listeners).clone();
        for event in &events {
            for listener in &listeners {
                listener(event);
            }
        }
    }

    pub(crate) fn join(&self, id: SocketId, rooms: Vec<String>) {
        self.change_rooms(id, |index, events| index.join(id, &rooms, events));
    }

    pub(crate) fn leave(&self, id: SocketId, room: &str) {
        self.change_rooms(id, |index, events| index.leave(id, room, events));
    }

    pub(crate) fn read_index(&self) -> RwLockReadGuard<'_, RoomIndex<Socket>> {
        read(&self.index)
    }

    pub(crate) fn write_index(&self) -> RwLockWriteGuard<'_, RoomIndex<Socket>> {
        write(&self.index)
    }

    /// The last socket left: a child namespace may go.
    pub(crate) fn on_last_socket_left(&self) {
        if self.parent.is_some()
            && self.config.cleanup_empty_child_namespaces
            && let Some(on_empty) = &self.on_empty
        {
            on_empty(&self.name);
        }
    }

    pub(crate) fn socket_rooms(&self, id: SocketId) -> Vec<String> {
        read(&self.index).rooms_of(id)
    }

    /// Calls `f` with each of this server's sockets that `target` designates.
    pub(crate) fn for_each_local(&self, target: &Target, f: impl FnMut(&Socket)) {
        read(&self.index).for_each(&target.rooms, &target.except, f);
    }

    pub(crate) fn local_sockets(&self, target: &Target) -> Vec<Socket> {
        let mut sockets = Vec::new();
        self.for_each_local(target, |socket| sockets.push(socket.clone()));
        sockets
    }
}

/// A handle on a namespace that does not keep it alive (what an adapter, which the
/// namespace owns, keeps of it): [`upgrade`](Self::upgrade) it to use it.
#[derive(Clone, Debug)]
pub struct WeakNamespace(std::sync::Weak<NamespaceInner>);

impl WeakNamespace {
    /// The namespace, while it exists.
    pub fn upgrade(&self) -> Option<Namespace> {
        self.0.upgrade().map(Namespace)
    }
}

impl Namespace {
    /// A handle that does not keep the namespace alive.
    pub fn downgrade(&self) -> WeakNamespace {
        WeakNamespace(Arc::downgrade(&self.0))
    }

    /// The namespace's name (`/` for the main one).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Adds a handler run for each socket that joins, after the middlewares accepted it
    /// and the client was told. Events the client sends meanwhile wait for it: register the
    /// socket's handlers here.
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        write(&self.0.handlers.connection).push(connection_handler(handler));
    }

    /// Adds a middleware (Node's `namespace.use`): it runs for each socket that asks to
    /// join, in the order added, and may refuse it; the client's `connect_error` handler
    /// then receives the [`ConnectError`]'s message and data.
    pub fn middleware<F, Fut>(&self, middleware_fn: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        write(&self.0.handlers.middlewares).push(middleware(middleware_fn));
    }

    /// Adds a listener of room changes (Node's adapter `create-room`, `delete-room`,
    /// `join-room`, `leave-room` events).
    pub fn on_room_event(&self, listener: impl Fn(&RoomEvent) + Send + Sync + 'static) {
        write(&self.0.room_listeners).push(Arc::new(listener));
    }

    /// The namespace's adapter.
    pub fn adapter(&self) -> Arc<dyn Adapter> {
        self.0.adapter()
    }

    /// Whether connection state recovery is on (the server was built with
    /// [`connection_state_recovery`](crate::SocketIoBuilder::connection_state_recovery)).
    pub fn recovers(&self) -> bool {
        self.0.config.recovery.is_some()
    }

    /// The parser of the server's packets (what an adapter encodes packets with).
    pub fn parser(&self) -> socketio_proto::Parser {
        self.0.config.parser
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.clone())
    }

    /// Emits to the sockets in these rooms.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.operator().to(rooms)
    }

    /// Same as [`to`](Self::to) (Node's `in`).
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.operator().to(rooms)
    }

    /// Emits to every socket but those in these rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.operator().except(rooms)
    }

    /// Emits to this server's sockets only, not the rest of the cluster.
    pub fn local(&self) -> BroadcastOperator {
        self.operator().local()
    }

    /// Emits, dropping the packet for clients that cannot take it at once.
    pub fn volatile(&self) -> BroadcastOperator {
        self.operator().volatile()
    }

    /// Accepted for compatibility; compression is off.
    pub fn compress(&self, compress: bool) -> BroadcastOperator {
        self.operator().compress(compress)
    }

    /// Emits with acknowledgements, waiting at most `timeout` for them.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.operator().timeout(timeout)
    }

    /// Emits to every socket of the namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        self.operator().emit(event, args)
    }

    /// Emits to every socket, with arguments as received.
    pub fn emit_raw(&self, event: &str, args: &Args) -> Result<(), EmitError> {
        self.operator().emit_raw(event, args)
    }

    /// Emits to every socket and gathers one acknowledgement from each; see
    /// [`BroadcastOperator::emit_with_ack`].
    pub async fn emit_with_ack<R, T>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<Vec<R>, crate::broadcast::BroadcastAckError<R>>
    where
        R: DeserializeOwned,
        T: Serialize + ?Sized,
    {
        self.operator().emit_with_ack(event, args).await
    }

    /// The sockets of the namespace, on every server.
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket> {
        self.operator().fetch_sockets().await
    }

    /// Puts every socket of the namespace in these rooms.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.operator().sockets_join(rooms);
    }

    /// Takes every socket of the namespace out of these rooms.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.operator().sockets_leave(rooms);
    }

    /// Disconnects every socket of the namespace (closing their connections if `close`).
    pub fn disconnect_sockets(&self, close: bool) {
        self.operator().disconnect_sockets(close);
    }

    /// This server's sockets of the namespace.
    pub fn sockets(&self) -> Vec<Socket> {
        self.0.local_sockets(&Target::default())
    }

    /// This server's socket with this id.
    pub fn socket(&self, id: SocketId) -> Option<Socket> {
        read(&self.0.index).sockets.get(&id).cloned()
    }

    /// Number of this server's sockets in the namespace.
    pub fn socket_count(&self) -> usize {
        read(&self.0.index).sockets.len()
    }

    /// The rooms that have sockets on this server (each socket's own room included).
    pub fn rooms(&self) -> Vec<String> {
        read(&self.0.index).room_names()
    }

    /// Number of this server's sockets in a room.
    pub fn room_size(&self, room: &str) -> usize {
        read(&self.0.index).members(room)
    }

    /// Emits an event to the other servers of the cluster (their `on_server_side`
    /// handlers) and gathers their answers. A single server has no one to tell.
    pub async fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<Vec<Args>, AdapterError> {
        let args = crate::broadcast::args_from(self.0.config.parser, args)
            .map_err(|error| AdapterError(Box::new(error)))?;
        self.0
            .adapter()
            .server_side_emit(&self.0.name, event, &args)
            .await
    }

    /// Handles an event sent by another server with `server_side_emit`; the returned
    /// arguments, if any, answer it.
    pub fn on_server_side(
        &self,
        event: impl Into<String>,
        handler: impl Fn(&Args) -> Option<Args> + Send + Sync + 'static,
    ) {
        write(&self.0.server_side)
            .entry(event.into())
            .or_default()
            .push(Arc::new(handler));
    }

    /// Runs the `on_server_side` handlers of an event received from another server (for
    /// cluster adapters); returns their answers.
    pub fn receive_server_side(&self, event: &str, args: &Args) -> Vec<Args> {
        let handlers = read(&self.0.server_side)
            .get(event)
            .cloned()
            .unwrap_or_default();
        handlers
            .iter()
            .filter_map(|handler| handler(args))
            .collect()
    }
}

/// A predicate on namespace names (and the join's `auth` payload) that creates matching
/// namespaces on demand (Node's `io.of(/regex/)` or `io.of(fn)`). Handlers and middlewares
/// added here apply to every namespace it creates, including later ones.
#[derive(Clone)]
pub struct ParentNamespace(pub(crate) Arc<ParentInner>);

type Matcher = Box<dyn Fn(&str, &Value) -> bool + Send + Sync>;

pub(crate) struct ParentInner {
    matcher: Matcher,
    handlers: Handlers,
    children: RwLock<Vec<Namespace>>,
}

impl fmt::Debug for ParentNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParentNamespace")
            .field("children", &read(&self.0.children).len())
            .finish_non_exhaustive()
    }
}

impl ParentInner {
    pub(crate) fn new(matcher: Matcher) -> Arc<Self> {
        Arc::new(ParentInner {
            matcher,
            handlers: Handlers::default(),
            children: RwLock::default(),
        })
    }

    pub(crate) fn matches(&self, name: &str, auth: &Value) -> bool {
        (self.matcher)(name, auth)
    }

    pub(crate) fn add_child(&self, child: Namespace) {
        write(&self.children).push(child);
    }

    pub(crate) fn remove_child(&self, name: &str) {
        write(&self.children).retain(|child| child.name() != name);
    }
}

impl ParentNamespace {
    /// Adds a connection handler for every namespace this creates.
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        write(&self.0.handlers.connection).push(connection_handler(handler));
    }

    /// Adds a middleware for every namespace this creates (it runs before theirs).
    pub fn middleware<F, Fut>(&self, middleware_fn: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        write(&self.0.handlers.middlewares).push(middleware(middleware_fn));
    }

    /// The namespaces created so far.
    pub fn children(&self) -> Vec<Namespace> {
        read(&self.0.children).clone()
    }

    /// Emits to every socket of every namespace created so far.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        for child in self.children() {
            child.emit(event, args)?;
        }
        Ok(())
    }

    /// Emits to the sockets in these rooms of every namespace created so far.
    pub fn to_rooms_emit<T: Serialize + ?Sized>(
        &self,
        rooms: impl IntoRooms,
        event: &str,
        args: &T,
    ) -> Result<(), EmitError> {
        let rooms = rooms.into_rooms();
        for child in self.children() {
            child.to(rooms.clone()).emit(event, args)?;
        }
        Ok(())
    }
}
