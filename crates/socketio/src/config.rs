//! Server options, with Node's defaults where Node has them and a safe bound where it has
//! none.

use std::time::Duration;

use socketio_proto::{DecoderLimits, Parser};

use std::sync::Arc;

use crate::recovery::ConnectionStateRecovery;
use crate::stats::Counters;

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
    pub(crate) recovery: Option<ConnectionStateRecovery>,
    pub(crate) stats: Arc<Counters>,
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
            recovery: None,
            stats: Arc::default(),
        }
    }
}
