//! What can go wrong between the servers of a cluster. Each error reaches the caller of
//! the operation (inside [`socketio::AdapterError`] for the server's API); local delivery
//! never waits on any of them.

use std::fmt;

use socketio::{AdapterError, Args};

/// A cross-server operation that failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisAdapterError {
    /// Refused at once: the broker is down, or the publish queue full. Nothing was sent.
    Unavailable {
        /// The operation.
        operation: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The broker refused or lost the message.
    Publish {
        /// The operation.
        operation: &'static str,
        /// The broker's error.
        reason: String,
    },
    /// Not every server answered in time.
    Timeout {
        /// The operation.
        operation: &'static str,
        /// The answers that came, one per server (for `server_side_emit`; empty for the
        /// others, whose partial answers are not returned, as in Node).
        responses: Vec<Args>,
        /// How many servers answered.
        received: usize,
        /// How many servers were expected to.
        expected: usize,
    },
}

impl fmt::Display for RedisAdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisAdapterError::Unavailable { operation, reason } => {
                write!(f, "{operation} not sent to the other servers: {reason}")
            }
            RedisAdapterError::Publish { operation, reason } => {
                write!(f, "{operation} not sent to the other servers: {reason}")
            }
            // Node's message, word for word.
            RedisAdapterError::Timeout {
                received, expected, ..
            } => write!(
                f,
                "timeout reached: only {received} responses received out of {expected}"
            ),
        }
    }
}

impl std::error::Error for RedisAdapterError {}

impl From<RedisAdapterError> for AdapterError {
    fn from(error: RedisAdapterError) -> Self {
        AdapterError(Box::new(error))
    }
}

impl RedisAdapterError {
    /// The error inside an [`AdapterError`] of the server's API, if it is one of these.
    pub fn of(error: &AdapterError) -> Option<&RedisAdapterError> {
        error.0.downcast_ref()
    }
}
