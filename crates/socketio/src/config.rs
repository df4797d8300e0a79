//! Server options, with Node's defaults where Node has them and a safe bound where it has
//! none.

use std::time::Duration;

use engineio::EngineIoBuilder;
use socketio_proto::{DecoderLimits, Parser};

/// What to do when a client's outgoing buffer is full (the client reads slower than the
/// server writes to it). Volatile packets are dropped in any case.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlowConsumerPolicy {
    /// Close the client's connection (reason `buffer full`): one slow client never holds
    /// memory or delays the others. The default.
    #[default]
    Disconnect,
    /// Keep the connection and fail the emit with [`EmitError::BufferFull`](crate::EmitError::BufferFull);
    /// a broadcast skips that client.
    Error,
}

#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) parser: Parser,
    pub(crate) limits: DecoderLimits,
    pub(crate) connect_timeout: Duration,
    pub(crate) ack_timeout: Duration,
    pub(crate) max_pending_acks: usize,
    pub(crate) max_pending_events: usize,
    pub(crate) max_namespaces: usize,
    pub(crate) slow_consumer: SlowConsumerPolicy,
    pub(crate) cleanup_empty_child_namespaces: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            parser: Parser::Json,
            limits: DecoderLimits::default(),
            connect_timeout: Duration::from_secs(45),
            ack_timeout: Duration::from_secs(60),
            max_pending_acks: 1024,
            max_pending_events: 1024,
            max_namespaces: 10_000,
            slow_consumer: SlowConsumerPolicy::Disconnect,
            cleanup_empty_child_namespaces: false,
        }
    }
}

/// Builds a [`SocketIo`](crate::SocketIo) server.
#[must_use]
pub struct SocketIoBuilder {
    pub(crate) engine: EngineIoBuilder,
    pub(crate) config: Config,
    pub(crate) adapter: Option<crate::adapter::AdapterFactory>,
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
}
