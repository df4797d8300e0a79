//! What the long-polling client and the WebSocket share: the connector (TCP, with TLS for
//! `https` and `wss`) and how a connection error is described.

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

/// Connects over TCP, with TLS when the URL says so.
pub(crate) type Connector = HttpsConnector<HttpConnector>;

/// The innermost cause: "connection refused" says more than "client error (Connect)".
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
