//! The server: its namespaces, and the Engine.IO server it runs on.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use engineio::{ConfigError, EngineIo, EngineSocket, ResponseBody};
use http::{Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_proto::{Args, Value};
use tower_service::Service;

use crate::adapter::{Adapter, LocalAdapter};
use crate::broadcast::{BroadcastAckError, BroadcastOperator, RemoteSocket};
use crate::config::{Config, SlowConsumerPolicy};
use crate::connection::Connection;
use crate::error::{ConnectError, EmitError};
use crate::handler::HandlerOutput;
use crate::namespace::{Namespace, NamespaceInner, ParentInner, ParentNamespace};
use crate::recovery::ConnectionStateRecovery;
use crate::rooms::IntoRooms;
use crate::socket::Socket;
use crate::stats::Stats;
use engineio::EngineIoBuilder;
use socketio_proto::{DecoderLimits, Parser};

/// Creates the adapter of each namespace.
pub(crate) type AdapterFactory = Arc<dyn Fn(&Namespace) -> Arc<dyn Adapter> + Send + Sync>;

/// Builds a [`SocketIo`](crate::SocketIo) server.
#[must_use]
pub struct SocketIoBuilder {
    pub(crate) engine: EngineIoBuilder,
    pub(crate) config: Config,
    pub(crate) adapter: Option<AdapterFactory>,
}

impl std::fmt::Debug for SocketIoBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIoBuilder")
            .field("engine", &self.engine)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for SocketIoBuilder {
    fn default() -> Self {
        SocketIoBuilder {
            engine: EngineIoBuilder::default()
                .path("/socket.io/")
                .max_buffered_bytes(4_000_000),
            config: Config::default(),
            adapter: None,
        }
    }
}

impl SocketIoBuilder {
    /// Engine.IO options: heartbeat, `max_payload`, transports, CORS, `allow_request`,
    /// cookie, limits. The path defaults to `/socket.io/` and the per-client outgoing
    /// buffer to 4 MB.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let builder = socketio::SocketIo::builder()
    ///     .engine(|engine| engine.ping_interval(Duration::from_secs(10)).max_payload(100_000));
    /// ```
    pub fn engine(mut self, configure: impl FnOnce(EngineIoBuilder) -> EngineIoBuilder) -> Self {
        self.engine = configure(self.engine);
        self
    }

    /// The parser every client of this server uses (default JSON).
    pub fn parser(mut self, parser: Parser) -> Self {
        self.config.parser = parser;
        self
    }

    /// Limits on what clients send: attachments per packet (10) and namespace length (256).
    pub fn decoder_limits(mut self, limits: DecoderLimits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Time a connection has to join a namespace before it is closed (default 45 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Default wait for a client's acknowledgement when no `timeout` is given (default
    /// 60 s; Node waits forever, which lets a silent client hold memory).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.config.ack_timeout = timeout;
        self
    }

    /// Most acknowledgements one socket may owe at once (default 1024); beyond it an
    /// `emit_with_ack` fails at once.
    pub fn max_pending_acks(mut self, max: usize) -> Self {
        self.config.max_pending_acks = max;
        self
    }

    /// Most events waiting for a socket's handlers (default 1024). A client that sends
    /// faster than its handlers finish past this bound is disconnected (`parse error`
    /// is not it: the reason is `forced server close`).
    pub fn max_pending_events(mut self, max: usize) -> Self {
        self.config.max_pending_events = max;
        self
    }

    /// Most namespaces created by dynamic namespaces (default 10 000); past it a client
    /// asking for a new one gets `Invalid namespace`.
    pub fn max_namespaces(mut self, max: usize) -> Self {
        self.config.max_namespaces = max;
        self
    }

    /// What happens when a client's outgoing buffer is full (default: disconnect it).
    pub fn slow_consumer_policy(mut self, policy: SlowConsumerPolicy) -> Self {
        self.config.slow_consumer = policy;
        self
    }

    /// Removes a namespace created by a dynamic namespace when its last socket leaves
    /// (Node's `cleanupEmptyChildNamespaces`, default off).
    pub fn cleanup_empty_child_namespaces(mut self, cleanup: bool) -> Self {
        self.config.cleanup_empty_child_namespaces = cleanup;
        self
    }

    /// Turns connection state recovery on (Node's `connectionStateRecovery`, off by
    /// default): a client whose connection drops gets its socket back (id, rooms, data)
    /// with every packet it missed, once each and in order, if it returns within
    /// `max_disconnection_duration`. See [`ConnectionStateRecovery`] and
    /// [`Socket::recovery`](crate::Socket::recovery).
    ///
    /// Replayable packets then carry their offset as their last argument (as in Node), and
    /// delivery within a namespace is serialised so that offsets follow delivery order.
    pub fn connection_state_recovery(mut self, recovery: ConnectionStateRecovery) -> Self {
        self.config.recovery = Some(recovery);
        self
    }
}

pub(crate) struct ServerInner {
    pub(crate) config: Arc<Config>,
    namespaces: RwLock<HashMap<String, Namespace>>,
    parents: RwLock<Vec<Arc<ParentInner>>>,
    adapter: AdapterFactory,
    dynamic_count: std::sync::atomic::AtomicUsize,
    closing: AtomicBool,
    me: Weak<ServerInner>,
}

impl ServerInner {
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    fn create(&self, name: String, parent: Option<Arc<ParentInner>>) -> Namespace {
        let server = self.me.clone();
        let on_empty: crate::namespace::EmptyHook = Box::new(move |name: &str| {
            if let Some(server) = server.upgrade() {
                server.remove_child_namespace(name);
            }
        });
        let namespace = Namespace(NamespaceInner::new(
            name,
            self.config.clone(),
            Some(on_empty),
            parent,
        ));
        namespace.0.set_adapter((self.adapter)(&namespace));
        namespace
    }

    fn of(&self, name: &str) -> Namespace {
        let name = normalize(name);
        if let Some(namespace) = self
            .namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&name)
        {
            return namespace.clone();
        }
        let mut namespaces = self.namespaces.write().unwrap_or_else(|p| p.into_inner());
        namespaces
            .entry(name.clone())
            .or_insert_with(|| self.create(name, None))
            .clone()
    }

    /// The namespace a client asks for: an existing one, or one a dynamic namespace
    /// creates for it.
    pub(crate) fn namespace_for(&self, name: &str, auth: &Value) -> Option<Namespace> {
        if let Some(namespace) = self
            .namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Some(namespace.clone());
        }
        let parents = self
            .parents
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let parent = parents
            .into_iter()
            .find(|parent| parent.matches(name, auth))?;
        let mut namespaces = self.namespaces.write().unwrap_or_else(|p| p.into_inner());
        if let Some(namespace) = namespaces.get(name) {
            return Some(namespace.clone());
        }
        if self.dynamic_count.load(Ordering::Acquire) >= self.config.max_namespaces {
            tracing::warn!("dynamic namespace limit reached");
            return None;
        }
        self.dynamic_count.fetch_add(1, Ordering::AcqRel);
        let namespace = self.create(name.to_owned(), Some(parent.clone()));
        parent.add_child(namespace.clone());
        namespaces.insert(name.to_owned(), namespace.clone());
        Some(namespace)
    }

    pub(crate) fn remove_child_namespace(&self, name: &str) {
        let removed = self
            .namespaces
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        if removed.is_some() {
            self.dynamic_count.fetch_sub(1, Ordering::AcqRel);
            for parent in self
                .parents
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
            {
                parent.remove_child(name);
            }
        }
    }
}

/// Node prefixes a missing `/`.
fn normalize(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

/// A Socket.IO server. Cheap to clone: every clone is the same server.
///
/// It is a [`tower_service::Service`] (mount it in axum with
/// `Router::new().route_service("/socket.io/", io)`) or run it with [`serve`](crate::serve).
///
/// ```no_run
/// use socketio::{Event, Socket, SocketIo};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let io = SocketIo::new();
/// io.on_connection(|socket: Socket| async move {
///     socket.on("chat message", |socket: Socket, event: Event| async move {
///         let (text,): (String,) = event.args()?;
///         socket.namespace().emit("chat message", &(text,))?;
///         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
///     });
/// });
/// socketio::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, io).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SocketIo {
    inner: Arc<ServerInner>,
    engine: EngineIo,
}

impl std::fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIo")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl SocketIoBuilder {
    /// Sets the adapter of every namespace (default [`LocalAdapter`]: a single server).
    pub fn adapter<F>(mut self, factory: F) -> Self
    where
        F: Fn(&Namespace) -> Arc<dyn Adapter> + Send + Sync + 'static,
    {
        self.adapter = Some(Arc::new(factory));
        self
    }

    /// Builds the server.
    pub fn build(self) -> Result<SocketIo, ConfigError> {
        let config = Arc::new(self.config);
        let adapter = self.adapter.unwrap_or_else(|| {
            Arc::new(|_: &Namespace| Arc::new(LocalAdapter) as Arc<dyn Adapter>)
        });
        let inner = Arc::new_cyclic(|me| ServerInner {
            config,
            namespaces: RwLock::default(),
            parents: RwLock::default(),
            adapter,
            dynamic_count: Default::default(),
            closing: AtomicBool::new(false),
            me: me.clone(),
        });
        inner.of("/");
        let handler_server = inner.clone();
        let engine = self
            .engine
            .build(move |socket: EngineSocket| Connection::new(handler_server.clone(), socket))?;
        Ok(SocketIo { inner, engine })
    }
}

impl Default for SocketIo {
    fn default() -> Self {
        SocketIo::new()
    }
}

impl SocketIo {
    /// Options for a new server.
    pub fn builder() -> SocketIoBuilder {
        SocketIoBuilder::default()
    }

    /// A server with the default options.
    pub fn new() -> SocketIo {
        // The defaults are valid.
        match SocketIo::builder().build() {
            Ok(io) => io,
            Err(error) => unreachable!("default configuration refused: {error}"),
        }
    }

    /// The namespace with this name, created if needed (Node's `io.of(name)`).
    pub fn of(&self, name: &str) -> Namespace {
        self.inner.of(name)
    }

    /// A dynamic namespace: clients may join any namespace for whose name (and `auth`
    /// payload) `matcher` returns true; it is created on first use (Node's `io.of(regex)`).
    ///
    /// ```
    /// # let io = socketio::SocketIo::new();
    /// let rooms = io.of_dynamic(|name, _auth| {
    ///     name.strip_prefix("/room-").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    /// });
    /// rooms.on_connection(|socket: socketio::Socket| async move {
    ///     println!("joined {}", socket.namespace().name());
    /// });
    /// ```
    pub fn of_dynamic(
        &self,
        matcher: impl Fn(&str, &Value) -> bool + Send + Sync + 'static,
    ) -> ParentNamespace {
        let parent = ParentInner::new(Box::new(matcher));
        self.inner
            .parents
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(parent.clone());
        ParentNamespace(parent)
    }

    /// Every namespace, dynamic ones included.
    pub fn namespaces(&self) -> Vec<Namespace> {
        self.inner
            .namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn main(&self) -> Namespace {
        self.of("/")
    }

    /// Adds a connection handler to the main namespace.
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        self.main().on_connection(handler);
    }

    /// Adds a middleware to the main namespace.
    pub fn middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.main().middleware(middleware);
    }

    /// Emits to the sockets in these rooms of the main namespace.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.main().to(rooms)
    }

    /// Same as [`to`](Self::to).
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.main().within(rooms)
    }

    /// Emits to every socket of the main namespace but those in these rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.main().except(rooms)
    }

    /// Emits to this server's sockets only.
    pub fn local(&self) -> BroadcastOperator {
        self.main().local()
    }

    /// Emits, dropping the packet for clients that cannot take it at once.
    pub fn volatile(&self) -> BroadcastOperator {
        self.main().volatile()
    }

    /// Emits with acknowledgements, waiting at most `timeout`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.main().timeout(timeout)
    }

    /// Emits to every socket of the main namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        self.main().emit(event, args)
    }

    /// Emits to every socket of the main namespace, with arguments as received.
    pub fn emit_raw(&self, event: &str, args: &Args) -> Result<(), EmitError> {
        self.main().emit_raw(event, args)
    }

    /// Emits to every socket of the main namespace and gathers their acknowledgements.
    pub async fn emit_with_ack<R, T>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<Vec<R>, BroadcastAckError<R>>
    where
        R: DeserializeOwned,
        T: Serialize + ?Sized,
    {
        self.main().emit_with_ack(event, args).await
    }

    /// The sockets of the main namespace.
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket> {
        self.main().fetch_sockets().await
    }

    /// Puts every socket of the main namespace in these rooms.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.main().sockets_join(rooms);
    }

    /// Takes every socket of the main namespace out of these rooms.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.main().sockets_leave(rooms);
    }

    /// Disconnects every socket of the main namespace.
    pub fn disconnect_sockets(&self, close: bool) {
        self.main().disconnect_sockets(close);
    }

    /// Emits to the other servers of the cluster (main namespace).
    pub async fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<Vec<Args>, crate::adapter::AdapterError> {
        self.main().server_side_emit(event, args).await
    }

    /// The Engine.IO server underneath.
    pub fn engine(&self) -> &EngineIo {
        &self.engine
    }

    /// Counters since the server started (packets and bytes in and out, drops, ack
    /// timeouts), for metrics. The Engine.IO layer has its own: `io.engine().stats()`.
    pub fn stats(&self) -> Stats {
        self.inner.config.stats.snapshot()
    }

    /// Shuts down: every socket leaves with `server shutting down`, every connection is
    /// closed, new ones are refused; waits at most `grace` for the connections to end.
    pub async fn close(&self, grace: Duration) {
        self.inner.closing.store(true, Ordering::Release);
        self.engine.close(grace).await;
    }
}

impl<B> Service<Request<B>> for SocketIo
where
    EngineIo: Service<Request<B>, Response = Response<ResponseBody>, Error = Infallible>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = <EngineIo as Service<Request<B>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.engine.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.engine.call(request)
    }
}
