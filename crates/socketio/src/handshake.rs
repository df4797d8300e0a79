//! What a socket knows of the client that opened it (Node's `socket.handshake`).

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use engineio::EngineSocket;
use http::{HeaderMap, Uri};
use socketio_proto::Value;

/// The details of a socket's connection: the HTTP request that opened the Engine.IO
/// session, and the `auth` payload of the namespace join.
#[derive(Clone, Debug)]
pub struct Handshake {
    engine: EngineSocket,
    auth: Value,
    issued: SystemTime,
}

impl Handshake {
    pub(crate) fn new(engine: EngineSocket, auth: Value) -> Self {
        Handshake {
            engine,
            auth,
            issued: SystemTime::now(),
        }
    }

    /// The headers of the request that opened the connection.
    pub fn headers(&self) -> &HeaderMap {
        &self.engine.request().headers
    }

    /// The URL of that request, with its query.
    pub fn url(&self) -> &Uri {
        &self.engine.request().uri
    }

    /// The value of a query parameter of that request (not percent-decoded).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.url().query().and_then(|query| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value)
        })
    }

    /// The client's address, when the server knows it.
    pub fn address(&self) -> Option<SocketAddr> {
        self.engine.remote_addr()
    }

    /// Whether the request came from another origin (it has an `Origin` header).
    pub fn xdomain(&self) -> bool {
        self.headers().contains_key(http::header::ORIGIN)
    }

    /// The `auth` payload the client sent with the join (`{}` if none).
    pub fn auth(&self) -> &Value {
        &self.auth
    }

    /// When the socket was created.
    pub fn issued(&self) -> SystemTime {
        self.issued
    }

    /// When the socket was created, in milliseconds since the Unix epoch (Node's `issued`).
    pub fn issued_millis(&self) -> u64 {
        self.issued
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}
