//! Where a client connects: the server's endpoint and the request URLs built from it.

use std::fmt::Write as _;

use crate::session::TransportKind;

/// The server a client connects to: scheme, host and port, the Engine.IO path and the
/// query parameters to send on every request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Whether to use TLS (`https` and `wss`).
    pub secure: bool,
    /// The host name or address (an IPv6 address without brackets).
    pub host: String,
    /// The port.
    pub port: u16,
    /// The Engine.IO path, as the client sends it (`/engine.io/` by default; the Socket.IO
    /// client uses `/socket.io/`).
    pub path: String,
    /// Query parameters sent with every request, before the protocol's own.
    pub query: Vec<(String, String)>,
}

impl Endpoint {
    /// An endpoint with the default path `/engine.io/` and no query.
    pub fn new(secure: bool, host: impl Into<String>, port: u16) -> Self {
        Endpoint {
            secure,
            host: host.into(),
            port,
            path: "/engine.io/".to_owned(),
            query: Vec::new(),
        }
    }

    /// Sets the path as the official client does: a trailing `/` removed, then one added
    /// when `add_trailing_slash` is true.
    pub fn with_path(mut self, path: &str, add_trailing_slash: bool) -> Self {
        let trimmed = path.strip_suffix('/').unwrap_or(path);
        self.path = if add_trailing_slash {
            format!("{trimmed}/")
        } else {
            trimmed.to_owned()
        };
        self
    }

    /// `host[:port]` as written in a URL: the port left out when it is the scheme's
    /// default, an IPv6 address in brackets.
    pub fn authority(&self) -> String {
        let default_port = if self.secure { 443 } else { 80 };
        let mut out = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port != default_port {
            let _ = write!(out, ":{}", self.port);
        }
        out
    }

    /// The URL of a request on `transport`: the user's query, then `EIO=4`, the transport,
    /// the session id once there is one, and the cache-busting `t` when given.
    pub fn url(&self, transport: TransportKind, sid: Option<&str>, t: Option<&str>) -> String {
        let scheme = match (transport, self.secure) {
            (TransportKind::Polling, false) => "http",
            (TransportKind::Polling, true) => "https",
            (TransportKind::WebSocket, false) => "ws",
            (TransportKind::WebSocket, true) => "wss",
        };
        let mut url = format!("{scheme}://{}{}?", self.authority(), self.path);
        let protocol = [
            ("EIO", Some("4")),
            ("transport", Some(transport.as_str())),
            ("sid", sid),
            ("t", t),
        ];
        let user = self.query.iter().filter(|(key, _)| {
            // The protocol's own parameters win over the user's of the same name.
            !matches!(key.as_str(), "EIO" | "transport" | "sid" | "t")
        });
        let mut first = true;
        for (key, value) in user
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(protocol.iter().filter_map(|(k, v)| v.map(|v| (*k, v))))
        {
            if !first {
                url.push('&');
            }
            first = false;
            encode_component(key, &mut url);
            url.push('=');
            encode_component(value, &mut url);
        }
        url
    }
}

/// Percent-encodes `text` as JavaScript's `encodeURIComponent` does.
pub fn encode_component(text: &str, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// A number written in base 36, as the official client writes its `t` parameter.
pub(crate) fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_the_official_client_builds_them() {
        let mut endpoint = Endpoint::new(false, "localhost", 3000).with_path("/socket.io", true);
        endpoint.query = vec![
            ("token".into(), "a b&c=d/é".into()),
            ("EIO".into(), "3".into()),
        ];
        assert_eq!(
            endpoint.url(TransportKind::Polling, None, Some("p0")),
            "http://localhost:3000/socket.io/?token=a%20b%26c%3Dd%2F%C3%A9&EIO=4&transport=polling&t=p0"
        );
        assert_eq!(
            endpoint.url(TransportKind::WebSocket, Some("ab-_C"), None),
            "ws://localhost:3000/socket.io/?token=a%20b%26c%3Dd%2F%C3%A9&EIO=4&transport=websocket&sid=ab-_C"
        );
        let secure = Endpoint::new(true, "::1", 443).with_path("/io/", false);
        assert_eq!(
            secure.url(TransportKind::WebSocket, None, None),
            "wss://[::1]/io?EIO=4&transport=websocket"
        );
        assert_eq!(Endpoint::new(true, "h", 80).authority(), "h:80");
        assert_eq!(Endpoint::new(false, "h", 80).authority(), "h");
    }

    #[test]
    fn base36_digits() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(u64::MAX), "3w5e11264sgsf");
    }
}
