//! A manager: one Engine.IO connection, shared by the sockets of several namespaces.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Weak};

use atomic_waker::AtomicWaker;

use crate::core::ManagerCore;
use crate::core::socket::SocketConfig;
use crate::error::BuildError;
use crate::event::ManagerEvent;
use crate::listeners::ListenerId;
use crate::options::{Auth, ManagerOptions, SocketOptions, Transport};
use crate::platform::{MaybeSend, MaybeSync};
use crate::runtime::{self, Clock};
use crate::shared::{
    HandleToken, Manager, ManagerListeners, ManagerShared, Socket, SocketListeners, SocketShared,
    lock,
};
use crate::url::ParsedUrl;

impl Manager {
    /// A manager for the server at `url` (its path, if any, is ignored: namespaces are
    /// chosen with [`socket`](Self::socket)). It connects when a socket does, or on
    /// [`open`](Self::open). Native targets need a tokio runtime.
    pub fn new(url: &str, options: ManagerOptions) -> Result<Manager, BuildError> {
        let url = ParsedUrl::parse(url)?;
        Self::from_parsed(&url, options)
    }

    pub(crate) fn from_parsed(
        url: &ParsedUrl,
        options: ManagerOptions,
    ) -> Result<Manager, BuildError> {
        let mut options = options;
        // The URL's query applies unless the options have one, as in the official client.
        if options.query.is_empty() {
            options.query = url.query.clone();
        }
        let core = ManagerCore::new(
            &options,
            url.endpoint(),
            runtime::random_seed(),
            runtime::prior_websocket_success(),
        );
        let shared = Arc::new(ManagerShared {
            core: Mutex::new(core),
            sockets: Mutex::new(Vec::new()),
            listeners: Mutex::new(ManagerListeners::default()),
            waker: AtomicWaker::new(),
            clock: Clock::new(),
            options,
            token: Mutex::new(Weak::new()),
            abandoned: AtomicBool::new(false),
            // The driver's first poll has the first step to take.
            changed: AtomicBool::new(true),
            dead: AtomicBool::new(false),
        });
        let token = Arc::new(HandleToken {
            shared: shared.clone(),
        });
        *lock(&shared.token) = Arc::downgrade(&token);
        runtime::spawn(crate::driver::Driver::new(shared))?;
        Ok(Manager { token })
    }

    pub(crate) fn shared(&self) -> &Arc<ManagerShared> {
        &self.token.shared
    }

    /// The socket of namespace `nsp` (made with `options` the first time; the same socket
    /// afterwards, whatever the options). It connects at once, as `manager.socket()` does
    /// with `autoConnect`, unless it is already active. To add listeners before it
    /// connects (so that none of its first events is missed), use
    /// [`build_socket`](Self::build_socket) and then [`Socket::connect`].
    pub fn socket(&self, nsp: &str, options: SocketOptions) -> Socket {
        let socket = self.build_socket(nsp, options);
        if !socket.active() {
            socket.connect();
        }
        socket
    }

    /// The socket of `nsp` (made with `options` the first time), not connected
    /// (`autoConnect: false`).
    pub fn build_socket(&self, nsp: &str, options: SocketOptions) -> Socket {
        let shared = self.shared();
        let mut sockets = lock(&shared.sockets);
        if let Some(socket) = sockets.iter().find(|s| s.nsp == nsp) {
            return Socket::new(self.token.clone(), socket.clone());
        }
        let config = SocketConfig {
            auth: match &options.auth {
                Auth::Value(value) => Some(value.clone()),
                _ => None,
            },
            auth_callback: matches!(options.auth, Auth::Callback(_)),
            // `retries: 0` is off in the official client (a falsy number).
            retries: options.retries.filter(|&n| n > 0),
            ack_timeout: options.ack_timeout,
            buffer: options.offline_buffer,
        };
        let key = lock(&shared.core).add_socket(nsp.to_owned(), config);
        let socket = Arc::new(SocketShared {
            key,
            nsp: nsp.to_owned(),
            auth: options.auth,
            listeners: Mutex::new(SocketListeners::default()),
        });
        sockets.push(socket.clone());
        Socket::new(self.token.clone(), socket)
    }

    /// Whether a socket of this manager uses namespace `nsp`.
    pub(crate) fn has_namespace(&self, nsp: &str) -> bool {
        lock(&self.shared().sockets).iter().any(|s| s.nsp == nsp)
    }

    /// Opens the connection if it is not open or opening (`manager.open()`).
    pub fn open(&self) {
        self.shared().with_core(|core, now| core.open(now));
    }

    /// Closes the connection for good: its sockets are disconnected (`forced close`) and
    /// nothing reconnects until a socket connects again.
    pub fn close(&self) {
        self.shared().with_core(|core, now| core.close(now));
    }

    /// Whether the connection is open.
    pub fn is_open(&self) -> bool {
        lock(&self.shared().core).is_open()
    }

    /// Whether a reconnection is pending or under way.
    pub fn is_reconnecting(&self) -> bool {
        lock(&self.shared().core).is_reconnecting()
    }

    /// The transport in use, while a connection is open or opening.
    pub fn transport(&self) -> Option<Transport> {
        lock(&self.shared().core).transport()
    }

    /// The options it was made with.
    pub fn options(&self) -> &ManagerOptions {
        &self.shared().options
    }

    /// Calls `listener` with every event of the manager.
    pub fn on_event<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&ManagerEvent) + MaybeSend + MaybeSync + 'static,
    {
        lock(&self.shared().listeners).add(Arc::new(listener))
    }

    /// Removes a listener added with [`on_event`](Self::on_event).
    pub fn off(&self, id: ListenerId) -> bool {
        lock(&self.shared().listeners).events.remove(id)
    }
}

impl PartialEq for Manager {
    /// Whether both name the same connection.
    fn eq(&self, other: &Manager) -> bool {
        Arc::ptr_eq(self.shared(), other.shared())
    }
}

impl Eq for Manager {}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("open", &self.is_open())
            .finish_non_exhaustive()
    }
}
