//! The platform under the driver: a clock, timers, task spawning, HTTP requests and
//! WebSockets. Native targets run on tokio, hyper and rustls; `wasm32` on the browser's
//! `fetch`, `WebSocket` and timers. Both offer the same items, so the driver is written
//! once.

use std::sync::atomic::{AtomicBool, Ordering};

use engineio_proto::Packet;

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::*;

#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
pub(crate) use wasm::*;

/// The official client's `priorWebsocketSuccess`, which is process-wide there too.
static PRIOR_WEBSOCKET_SUCCESS: AtomicBool = AtomicBool::new(false);

pub(crate) fn prior_websocket_success() -> bool {
    PRIOR_WEBSOCKET_SUCCESS.load(Ordering::Relaxed)
}

pub(crate) fn set_prior_websocket_success(success: bool) {
    PRIOR_WEBSOCKET_SUCCESS.store(success, Ordering::Relaxed);
}

/// A long-polling request's method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
}

/// What a WebSocket received.
#[derive(Debug)]
pub(crate) enum Incoming {
    Packet(Packet),
    /// A message that is not an Engine.IO packet.
    Undecodable,
    /// The connection closed or was cut.
    Closed,
    /// The server broke the WebSocket protocol.
    Error(String),
}
