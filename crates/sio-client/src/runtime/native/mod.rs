//! The native platform: tokio for tasks and timers, hyper for HTTP, rustls for TLS, and
//! the project's own WebSocket framing (client side) over hyper's upgraded connection.

mod http;
mod net;
mod tls;
mod websocket;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

use engineio_proto::Timestamp;

use crate::error::BuildError;

pub(crate) use http::Http;
pub(crate) use websocket::WebSocket;

/// Time since the manager was made, on tokio's clock (which tests may pause).
pub(crate) struct Clock(Instant);

impl Clock {
    pub(crate) fn new() -> Self {
        Clock(Instant::now())
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::from_duration(self.0.elapsed())
    }
}

/// Runs the driver on the current tokio runtime.
pub(crate) fn spawn(future: impl Future<Output = ()> + Send + 'static) -> Result<(), BuildError> {
    let handle = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
    handle.spawn(future);
    Ok(())
}

pub(crate) type Sleep = Pin<Box<tokio::time::Sleep>>;

pub(crate) fn sleep(delay: Duration) -> Sleep {
    Box::pin(tokio::time::sleep(delay))
}

pub(crate) fn random_seed() -> u64 {
    rand::random()
}

/// Four fresh bytes for a WebSocket frame's mask.
pub(crate) fn mask() -> [u8; 4] {
    rand::random()
}
