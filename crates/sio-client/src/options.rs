//! The options of a manager (one Engine.IO connection) and of a socket (one namespace),
//! with the official client's names and defaults.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use socketio_proto::{Parser, Value};

use crate::platform::{AsyncCallback, MaybeSend, MaybeSync};

/// A transport the client may use.
pub use engineio_proto::TransportKind as Transport;

/// Options of a [`Manager`](crate::Manager): the connection, its transports and its
/// reconnection. Field names are the official client's, in Rust's case.
#[derive(Clone, Debug)]
pub struct ManagerOptions {
    /// The Engine.IO path on the server. Default `/socket.io`.
    pub path: String,
    /// Whether a `/` is added to the path, as the official client does. Default true.
    pub add_trailing_slash: bool,
    /// Query parameters sent with every request (`query`).
    pub query: Vec<(String, String)>,
    /// Headers sent with every long-polling request and with the WebSocket handshake
    /// (`extraHeaders`). Browsers do not let a page set headers on a WebSocket handshake,
    /// so there they go on long-polling requests only, as with the official client.
    pub extra_headers: Vec<(String, String)>,
    /// Transports in order of preference. Default long-polling, then WebSocket.
    pub transports: Vec<Transport>,
    /// Whether to upgrade from long-polling to WebSocket. Default true.
    pub upgrade: bool,
    /// Whether to open with WebSocket when the last WebSocket to a server worked. Default
    /// false.
    pub remember_upgrade: bool,
    /// Whether a transport that fails to open is followed by the next one. Default false.
    pub try_all_transports: bool,
    /// Whether requests carry the cache-busting `t` parameter; `None` (the default) for
    /// the official client's choice: on long-polling requests only.
    pub timestamp_requests: Option<bool>,
    /// Whether to reconnect after a connection is lost. Default true.
    pub reconnection: bool,
    /// Attempts before giving up (`reconnect_failed`). Default unlimited.
    pub reconnection_attempts: u32,
    /// The first delay before reconnecting, doubled at each attempt. Default 1 s.
    pub reconnection_delay: Duration,
    /// The longest delay. Default 5 s.
    pub reconnection_delay_max: Duration,
    /// How much a delay varies at random, from 0 to 1. Default 0.5.
    pub randomization_factor: f64,
    /// How long a connection attempt may take before it fails with `timeout`; `None` for
    /// no limit. Default 20 s.
    pub timeout: Option<Duration>,
    /// The Socket.IO parser; it must be the server's. Default JSON.
    pub parser: Parser,
    /// Largest message or long-polling response accepted from the server, in bytes; a
    /// larger one closes the connection with `transport error`. Default 100 MiB (as the
    /// `ws` package the official client uses in Node).
    pub max_incoming_payload: usize,
    /// Certificate verification for `https` and `wss` (native only; browsers verify).
    pub tls: TlsOptions,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            path: "/socket.io".to_owned(),
            add_trailing_slash: true,
            query: Vec::new(),
            extra_headers: Vec::new(),
            transports: vec![Transport::Polling, Transport::WebSocket],
            upgrade: true,
            remember_upgrade: false,
            try_all_transports: false,
            timestamp_requests: None,
            reconnection: true,
            reconnection_attempts: u32::MAX,
            reconnection_delay: Duration::from_secs(1),
            reconnection_delay_max: Duration::from_secs(5),
            randomization_factor: 0.5,
            timeout: Some(Duration::from_secs(20)),
            parser: Parser::Json,
            max_incoming_payload: 100 * 1024 * 1024,
            tls: TlsOptions::default(),
        }
    }
}

/// How `https` and `wss` servers are verified. By default their certificate must chain to
/// a root the system trusts and name the host connected to.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// Root certificates (DER) to trust instead of the system's.
    pub root_certificates: Option<Vec<Vec<u8>>>,
    /// Accept any certificate for any host. Anyone on the path can then read and change
    /// the traffic: for tests against a self-signed server only.
    pub danger_accept_invalid_certs: bool,
}

/// What a socket sends to authenticate when it joins its namespace (`auth`).
#[derive(Clone, Default)]
pub enum Auth {
    /// Nothing.
    #[default]
    None,
    /// The same object on every connection.
    Value(Value),
    /// Asked for again before every connection and reconnection (a token that expires is
    /// refreshed there).
    Callback(AsyncCallback<Value>),
}

impl Auth {
    /// A callback that returns the payload at once.
    pub fn from_fn<F>(f: F) -> Self
    where
        F: Fn() -> Value + MaybeSend + MaybeSync + 'static,
    {
        Auth::Callback(Arc::new(move || {
            let value = f();
            Box::pin(async move { value })
        }))
    }

    /// A callback that looks the payload up asynchronously (a token fetched from an
    /// authentication server, say).
    pub fn from_async_fn<F, Fut>(f: F) -> Self
    where
        F: Fn() -> Fut + MaybeSend + MaybeSync + 'static,
        Fut: std::future::Future<Output = Value> + MaybeSend + 'static,
    {
        Auth::Callback(Arc::new(move || Box::pin(f())))
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Value(value) => f.debug_tuple("Value").field(value).finish(),
            Auth::Callback(_) => f.write_str("Callback(..)"),
        }
    }
}

/// Options of one [`Socket`](crate::Socket) (a namespace).
#[derive(Clone, Debug, Default)]
pub struct SocketOptions {
    /// The `auth` payload of the CONNECT packet.
    pub auth: Auth,
    /// With [`ack_timeout`](Self::ack_timeout): every emit that is not volatile is queued
    /// and sent one at a time until the server acknowledges it, tried up to `1 + retries`
    /// times (at-least-once, in order). Default none.
    pub retries: Option<u32>,
    /// The acknowledgement timeout of every emit that waits for one, unless the emit says
    /// otherwise. Default none.
    pub ack_timeout: Option<Duration>,
    /// What is kept while the socket is not connected.
    pub offline_buffer: OfflineBuffer,
}

/// The bound of what a socket keeps to send while it is not connected (and, with
/// `retries`, what waits in its queue). The official client's buffer grows without limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfflineBuffer {
    /// Most packets kept. Default 1 000.
    pub max_packets: usize,
    /// Most bytes kept (encoded, attachments included). Default 1 MiB.
    pub max_bytes: usize,
    /// What a full buffer does.
    pub policy: WhenFull,
}

impl Default for OfflineBuffer {
    fn default() -> Self {
        OfflineBuffer {
            max_packets: 1000,
            max_bytes: 1024 * 1024,
            policy: WhenFull::RejectNew,
        }
    }
}

/// What a full offline buffer does with one more packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WhenFull {
    /// The new emit fails with [`EmitError::BufferFull`](crate::EmitError::BufferFull):
    /// nothing is lost without the caller knowing. The default.
    #[default]
    RejectNew,
    /// The oldest packets are dropped to make room (their acknowledgements fail with
    /// [`AckError::Dropped`](crate::AckError::Dropped)): the freshest data wins.
    DropOldest,
}
