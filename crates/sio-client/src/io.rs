//! `io(url)`: a socket for a URL, sharing one connection per server as the official
//! client's `io()` does.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use socketio_proto::{Parser, Value};

use crate::error::BuildError;
use crate::event::{ConnectError, DisconnectReason};
use crate::options::{Auth, ManagerOptions, OfflineBuffer, SocketOptions, TlsOptions, Transport};
use crate::platform::{MaybeSend, MaybeSync};
use crate::shared::{Event, HandleToken, Manager, Socket};
use crate::url::ParsedUrl;

type Cache = HashMap<String, Weak<HandleToken>>;

/// Managers made by `io()`, by scheme, host, port and path: a later `io()` for another
/// namespace of the same server reuses the connection.
#[cfg(not(target_arch = "wasm32"))]
fn with_cache<R>(f: impl FnOnce(&mut Cache) -> R) -> R {
    static MANAGERS: std::sync::Mutex<Option<Cache>> = std::sync::Mutex::new(None);
    f(crate::shared::lock(&MANAGERS).get_or_insert_with(HashMap::new))
}

/// Managers made by `io()` (the page has one thread, and its handles are not `Send`).
#[cfg(target_arch = "wasm32")]
fn with_cache<R>(f: impl FnOnce(&mut Cache) -> R) -> R {
    thread_local! {
        static MANAGERS: std::cell::RefCell<Cache> = std::cell::RefCell::new(HashMap::new());
    }
    MANAGERS.with(|cache| f(&mut cache.borrow_mut()))
}

/// Starts a socket for `url`, as the official `io(url, options)`: the URL names the server
/// and the namespace (`http://localhost:3000/admin`), options are set on the builder, and
/// [`connect`](SocketBuilder::connect) makes the socket and connects it.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let socket = sio_client::io("http://localhost:3000/chat")
///     .auth(serde_json::json!({ "token": "abc" }))
///     .on("message", |event| println!("{}: {:?}", event.name(), event.args()))
///     .connect()?;
/// let answer = socket.emit_with_ack("hello", &("world",))?.await?;
/// # Ok(()) }
/// ```
pub fn io(url: &str) -> SocketBuilder {
    SocketBuilder {
        url: url.to_owned(),
        manager: ManagerOptions::default(),
        socket: SocketOptions::default(),
        force_new: false,
        multiplex: true,
        setup: Vec::new(),
    }
}

#[cfg(not(target_arch = "wasm32"))]
type Setup = Box<dyn FnOnce(&Socket) + Send>;
#[cfg(target_arch = "wasm32")]
type Setup = Box<dyn FnOnce(&Socket)>;

/// The options and listeners of a socket to make. Manager options apply when the socket
/// gets a connection of its own; a socket that shares one keeps only its socket options
/// (`auth`, `retries`, `ack_timeout`, the offline buffer), as with the official client.
#[must_use = "a builder does nothing until `connect` or `build`"]
pub struct SocketBuilder {
    url: String,
    manager: ManagerOptions,
    socket: SocketOptions,
    force_new: bool,
    multiplex: bool,
    /// Listeners to add before the socket connects, so that none of its events is missed.
    setup: Vec<Setup>,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => $target:ident.$field:ident $(($wrap:path))?;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Self {
                self.$target.$field = setters!(@wrap value $($wrap)?);
                self
            }
        )*
    };
    (@wrap $value:ident) => { $value };
    (@wrap $value:ident $wrap:path) => { $wrap($value) };
}

impl SocketBuilder {
    setters! {
        /// The Engine.IO path on the server (`path`, default `/socket.io`).
        path: &str => manager.path(String::from);
        /// Whether a `/` is added to the path (`addTrailingSlash`, default true).
        add_trailing_slash: bool => manager.add_trailing_slash;
        /// The transports to use, in order (`transports`).
        transports: Vec<Transport> => manager.transports;
        /// Whether to upgrade to WebSocket (`upgrade`, default true).
        upgrade: bool => manager.upgrade;
        /// `rememberUpgrade` (default false).
        remember_upgrade: bool => manager.remember_upgrade;
        /// `tryAllTransports` (default false).
        try_all_transports: bool => manager.try_all_transports;
        /// `timestampRequests`.
        timestamp_requests: bool => manager.timestamp_requests(Some);
        /// `reconnection` (default true).
        reconnection: bool => manager.reconnection;
        /// `reconnectionAttempts` (default unlimited).
        reconnection_attempts: u32 => manager.reconnection_attempts;
        /// `reconnectionDelay` (default 1 s).
        reconnection_delay: Duration => manager.reconnection_delay;
        /// `reconnectionDelayMax` (default 5 s).
        reconnection_delay_max: Duration => manager.reconnection_delay_max;
        /// `randomizationFactor` (default 0.5).
        randomization_factor: f64 => manager.randomization_factor;
        /// The connect `timeout` (default 20 s).
        timeout: Duration => manager.timeout(Some);
        /// The parser (`parser`), which must be the server's.
        parser: Parser => manager.parser;
        /// Largest message accepted from the server.
        max_incoming_payload: usize => manager.max_incoming_payload;
        /// TLS verification settings.
        tls: TlsOptions => manager.tls;
        /// `retries`, with [`ack_timeout`](Self::ack_timeout).
        retries: u32 => socket.retries(Some);
        /// `ackTimeout`.
        ack_timeout: Duration => socket.ack_timeout(Some);
        /// The offline buffer's bounds and policy.
        offline_buffer: OfflineBuffer => socket.offline_buffer;
    }

    /// All manager options at once.
    pub fn manager_options(mut self, options: ManagerOptions) -> Self {
        self.manager = options;
        self
    }

    /// All socket options at once.
    pub fn socket_options(mut self, options: SocketOptions) -> Self {
        self.socket = options;
        self
    }

    /// No connect timeout.
    pub fn no_timeout(mut self) -> Self {
        self.manager.timeout = None;
        self
    }

    /// Adds a query parameter sent on every request (`query`).
    pub fn query(mut self, key: &str, value: &str) -> Self {
        self.manager.query.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Adds a header sent on every request (`extraHeaders`).
    pub fn extra_header(mut self, name: &str, value: &str) -> Self {
        self.manager
            .extra_headers
            .push((name.to_owned(), value.to_owned()));
        self
    }

    /// The `auth` payload: the same on every connection.
    pub fn auth(mut self, auth: impl Into<Value>) -> Self {
        self.socket.auth = Auth::Value(auth.into());
        self
    }

    /// The `auth` payload, in any of its forms.
    pub fn socket_auth(mut self, auth: Auth) -> Self {
        self.socket.auth = auth;
        self
    }

    /// The `auth` payload, asked for before every connection and reconnection.
    pub fn auth_fn<F>(mut self, auth: F) -> Self
    where
        F: Fn() -> Value + MaybeSend + MaybeSync + 'static,
    {
        self.socket.auth = Auth::from_fn(auth);
        self
    }

    /// The `auth` payload, looked up asynchronously before every connection.
    pub fn auth_async<F, Fut>(mut self, auth: F) -> Self
    where
        F: Fn() -> Fut + MaybeSend + MaybeSync + 'static,
        Fut: std::future::Future<Output = Value> + MaybeSend + 'static,
    {
        self.socket.auth = Auth::from_async_fn(auth);
        self
    }

    /// A connection of its own, even if another socket has one to the same server
    /// (`forceNew`).
    pub fn force_new(mut self, force_new: bool) -> Self {
        self.force_new = force_new;
        self
    }

    /// Whether to share a connection with other sockets (`multiplex`, default true).
    pub fn multiplex(mut self, multiplex: bool) -> Self {
        self.multiplex = multiplex;
        self
    }

    /// Adds a listener of `event` before connecting.
    pub fn on<F>(mut self, event: &str, listener: F) -> Self
    where
        F: Fn(&Event) + MaybeSend + MaybeSync + 'static,
    {
        let event = event.to_owned();
        self.setup.push(Box::new(move |socket| {
            socket.on(&event, listener);
        }));
        self
    }

    /// Adds a catch-all listener before connecting.
    pub fn on_any<F>(mut self, listener: F) -> Self
    where
        F: Fn(&Event) + MaybeSend + MaybeSync + 'static,
    {
        self.setup.push(Box::new(move |socket| {
            socket.on_any(listener);
        }));
        self
    }

    /// Adds a `connect` listener before connecting.
    pub fn on_connect<F>(mut self, listener: F) -> Self
    where
        F: Fn(&Socket) + MaybeSend + MaybeSync + 'static,
    {
        self.setup.push(Box::new(move |socket| {
            socket.on_connect(listener);
        }));
        self
    }

    /// Adds a `disconnect` listener before connecting.
    pub fn on_disconnect<F>(mut self, listener: F) -> Self
    where
        F: Fn(&Socket, DisconnectReason) + MaybeSend + MaybeSync + 'static,
    {
        self.setup.push(Box::new(move |socket| {
            socket.on_disconnect(listener);
        }));
        self
    }

    /// Adds a `connect_error` listener before connecting.
    pub fn on_connect_error<F>(mut self, listener: F) -> Self
    where
        F: Fn(&Socket, &ConnectError) + MaybeSend + MaybeSync + 'static,
    {
        self.setup.push(Box::new(move |socket| {
            socket.on_connect_error(listener);
        }));
        self
    }

    /// Makes the socket and connects it (`autoConnect`).
    pub fn connect(self) -> Result<Socket, BuildError> {
        let socket = self.build()?;
        socket.connect();
        Ok(socket)
    }

    /// Makes the socket without connecting it (`autoConnect: false`); call
    /// [`Socket::connect`].
    pub fn build(self) -> Result<Socket, BuildError> {
        let url = ParsedUrl::parse(&self.url)?;
        let id = url.manager_id(&self.manager.path);
        let manager = if self.force_new || !self.multiplex {
            Manager::from_parsed(&url, self.manager)?
        } else {
            with_cache(|cache| {
                cache.retain(|_, manager| manager.strong_count() > 0);
                let cached = cache
                    .get(&id)
                    .and_then(Weak::upgrade)
                    .map(|token| Manager { token });
                match cached {
                    Some(manager) if !manager.has_namespace(&url.nsp) => Ok(manager),
                    // Another socket of this namespace has the shared connection: a new
                    // one, as the official client does.
                    Some(_) => Manager::from_parsed(&url, self.manager),
                    None => {
                        let manager = Manager::from_parsed(&url, self.manager)?;
                        cache.insert(id, Arc::downgrade(&manager.token));
                        Ok(manager)
                    }
                }
            })?
        };
        let socket = manager.build_socket(&url.nsp, self.socket);
        for setup in self.setup {
            setup(&socket);
        }
        Ok(socket)
    }
}
