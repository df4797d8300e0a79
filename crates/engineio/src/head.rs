//! The request that opened a session, kept for the session's life in one small allocation.
//!
//! Applications read it rarely (a middleware looks at a header or two at connection time),
//! yet every session holds it. As an `http::request::Parts` it cost about 1 KB per held
//! connection (valgrind's dhat, `bench/run.sh connect`: a 624-byte header map, the values,
//! the URI, an extension map for the peer address, and the `Parts` itself); packed, it is
//! the request's bytes, and the `Parts` is built the first time someone asks for it.

use std::net::SocketAddr;
use std::sync::OnceLock;

use http::request::Parts;
use http::{Extensions, HeaderName, HeaderValue, Method, Request, Uri, Version};

/// The remote address of a connection, as a request extension. [`serve`](crate::serve)
/// adds it; behind another server, add it yourself to have
/// [`EngineSocket::remote_addr`](crate::EngineSocket::remote_addr) answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RemoteAddr(pub SocketAddr);

/// A request head, packed. See the [module docs](self).
pub(crate) struct RequestHead {
    method: Method,
    version: Version,
    remote: Option<SocketAddr>,
    /// The request's other extensions (empty, and unallocated, unless a layer added some).
    extensions: Extensions,
    /// The URI, then per header: name length (u16), name, value length (u32), value,
    /// sensitive flag (u8).
    packed: Box<[u8]>,
    uri_len: u32,
    header_count: u32,
    parts: OnceLock<Box<Parts>>,
}

impl RequestHead {
    /// Packs `parts`, taking the [`RemoteAddr`] extension out into a field of its own.
    pub(crate) fn new(mut parts: Parts) -> Self {
        let remote = parts.extensions.remove::<RemoteAddr>().map(|addr| addr.0);
        let extensions = if parts.extensions.is_empty() {
            Extensions::new()
        } else {
            parts.extensions
        };
        let uri = parts.uri.to_string();
        let size = uri.len()
            + parts
                .headers
                .iter()
                .map(|(name, value)| 7 + name.as_str().len() + value.len())
                .sum::<usize>();
        let mut packed = Vec::with_capacity(size);
        packed.extend_from_slice(uri.as_bytes());
        let mut header_count = 0u32;
        for (name, value) in &parts.headers {
            // Limits far above what the HTTP server accepts; anything larger is dropped.
            let (Ok(name_len), Ok(value_len)) = (
                u16::try_from(name.as_str().len()),
                u32::try_from(value.len()),
            ) else {
                continue;
            };
            packed.extend_from_slice(&name_len.to_le_bytes());
            packed.extend_from_slice(name.as_str().as_bytes());
            packed.extend_from_slice(&value_len.to_le_bytes());
            packed.extend_from_slice(value.as_bytes());
            packed.push(u8::from(value.is_sensitive()));
            header_count += 1;
        }
        RequestHead {
            method: parts.method,
            version: parts.version,
            remote,
            extensions,
            packed: packed.into_boxed_slice(),
            uri_len: u32::try_from(uri.len()).unwrap_or(0),
            header_count,
            parts: OnceLock::new(),
        }
    }

    /// The client's address, if the server recorded it.
    pub(crate) fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// The request head as `Parts`, built on first use.
    pub(crate) fn parts(&self) -> &Parts {
        self.parts.get_or_init(|| Box::new(self.unpack()))
    }

    fn unpack(&self) -> Parts {
        let mut request = Request::new(());
        *request.method_mut() = self.method.clone();
        *request.version_mut() = self.version;
        let (uri, mut rest) = self.packed.split_at(self.uri_len as usize);
        // It parsed when the server received it, and printing a `Uri` gives a form that
        // parses again.
        let uri = Uri::try_from(uri);
        debug_assert!(uri.is_ok(), "a packed URI parses again");
        *request.uri_mut() = uri.unwrap_or_default();
        let headers = request.headers_mut();
        headers.reserve(self.header_count as usize);
        for _ in 0..self.header_count {
            let Some((
                PackedHeader {
                    name,
                    value,
                    sensitive,
                },
                tail,
            )) = next_header(rest)
            else {
                break;
            };
            rest = tail;
            // Both were valid when packed, unless a layer before ours built a value with
            // `from_maybe_shared_unchecked`; such a header is left out.
            match (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
                (Ok(name), Ok(mut value)) => {
                    value.set_sensitive(sensitive);
                    headers.append(name, value);
                }
                _ => tracing::debug!("an invalid request header was left out of the handshake"),
            }
        }
        *request.extensions_mut() = self.extensions.clone();
        if let Some(remote) = self.remote {
            request.extensions_mut().insert(RemoteAddr(remote));
        }
        request.into_parts().0
    }
}

/// One header as packed.
struct PackedHeader<'a> {
    name: &'a [u8],
    value: &'a [u8],
    sensitive: bool,
}

/// Splits one packed header off the front of `bytes`.
fn next_header(bytes: &[u8]) -> Option<(PackedHeader<'_>, &[u8])> {
    let (name_len, bytes) = bytes.split_first_chunk::<2>()?;
    let (name, bytes) = bytes.split_at_checked(u16::from_le_bytes(*name_len) as usize)?;
    let (value_len, bytes) = bytes.split_first_chunk::<4>()?;
    let (value, bytes) = bytes.split_at_checked(u32::from_le_bytes(*value_len) as usize)?;
    let (&sensitive, bytes) = bytes.split_first()?;
    let header = PackedHeader {
        name,
        value,
        sensitive: sensitive != 0,
    };
    Some((header, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_method_uri_headers_and_extensions() {
        let mut request = Request::post("/engine.io/?EIO=4&transport=websocket")
            .header("host", "example.com")
            .header("x-custom", "a")
            .header("x-custom", "b")
            .body(())
            .unwrap();
        let mut secret = HeaderValue::from_static("Bearer t");
        secret.set_sensitive(true);
        request.headers_mut().insert("authorization", secret);
        request
            .extensions_mut()
            .insert(RemoteAddr("127.0.0.1:9".parse().unwrap()));
        request.extensions_mut().insert(7u32);
        let head = RequestHead::new(request.into_parts().0);

        assert_eq!(head.remote(), Some("127.0.0.1:9".parse().unwrap()));
        let parts = head.parts();
        assert_eq!(parts.method, Method::POST);
        assert_eq!(parts.uri, "/engine.io/?EIO=4&transport=websocket");
        assert_eq!(parts.headers["host"], "example.com");
        let custom: Vec<_> = parts.headers.get_all("x-custom").iter().collect();
        assert_eq!(custom, ["a", "b"]);
        assert!(parts.headers["authorization"].is_sensitive());
        assert_eq!(parts.extensions.get::<u32>(), Some(&7));
        assert_eq!(
            parts.extensions.get::<RemoteAddr>().map(|a| a.0),
            head.remote()
        );
        assert!(std::ptr::eq(parts, head.parts()), "built once");
    }
}
