//! WebSocket plumbing: the RFC 6455 opening handshake on hyper's upgrade path, and the
//! connection that carries Engine.IO packets as WebSocket messages ([`WsStream`]).
//!
//! Frames are decoded by [`engineio_proto::websocket`], which checks the announced length
//! against `max_payload` before storing anything (closing with 1009 past it), rejects
//! reserved bits, unknown opcodes, unmasked client frames, fragmented or oversized control
//! frames (1002) and invalid UTF-8 (1007).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, header};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use socket2::SockRef;
use tokio::io::Interest;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

mod stream;

pub(crate) use stream::{Incoming, WriteNow, WsStream, write_now};

/// The connection under a WebSocket: the TCP stream itself when hyper served a plain
/// `TcpStream` (as [`serve`](crate::serve) and `axum::serve` do), otherwise hyper's
/// upgraded connection.
///
/// Taking the TCP stream back skips three layers of indirection on every read and write
/// (hyper's `Upgraded`, its rewind buffer and a boxed trait object) and frees hyper's
/// 4 KiB read buffer, which `Upgraded` otherwise keeps for the connection's life
/// (measured with valgrind's dhat: 4.1 KB per held connection).
///
/// The TCP stream's writing half is shared with the session's
/// [`Shared`](crate::socket::Shared) state, so that a message sent to an idle session is
/// written at once by its sender (see `socket.rs`); the session's task writes through
/// the same half by reference. Reads keep tokio's own path (the reading half).
pub(crate) enum WsIo {
    Tcp {
        read: OwnedReadHalf,
        write: Arc<SharedWriter>,
        /// Bytes hyper had read past the request (a client that did not wait for 101).
        prefix: bytes::Bytes,
    },
    Upgraded(TokioIo<Upgraded>),
}

impl WsIo {
    fn new(upgraded: Upgraded) -> Self {
        match upgraded.downcast::<TokioIo<tokio::net::TcpStream>>() {
            Ok(parts) => {
                let (read, write) = parts.io.into_inner().into_split();
                WsIo::Tcp {
                    read,
                    write: Arc::new(SharedWriter::new(write)),
                    // A copy: the slice, even empty, would keep hyper's whole buffer alive.
                    prefix: bytes::Bytes::copy_from_slice(&parts.read_buf),
                }
            }
            Err(upgraded) => WsIo::Upgraded(TokioIo::new(upgraded)),
        }
    }
}

impl tokio::io::AsyncRead for WsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp { read, prefix, .. } => {
                if !prefix.is_empty() {
                    let n = prefix.len().min(buf.remaining());
                    buf.put_slice(&prefix.split_to(n));
                    return Poll::Ready(Ok(()));
                }
                Pin::new(read).poll_read(cx, buf)
            }
            WsIo::Upgraded(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for WsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            WsIo::Tcp { write, .. } => {
                let stream = write.stream()?;
                poll_write(stream, cx, buf.len(), || send(stream, buf))
            }
            WsIo::Upgraded(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            // Not used by the WebSocket, which gathers its frames into one buffer: the
            // first non-empty buffer, as tokio's default does.
            WsIo::Tcp { write, .. } => {
                let stream = write.stream()?;
                let buf = bufs
                    .iter()
                    .find(|buf| !buf.is_empty())
                    .map_or(&[][..], |b| &**b);
                poll_write(stream, cx, buf.len(), || send(stream, buf))
            }
            WsIo::Upgraded(io) => Pin::new(io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            WsIo::Tcp { .. } => false,
            WsIo::Upgraded(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp { .. } => Poll::Ready(Ok(())),
            WsIo::Upgraded(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            // Nothing to do: the connection is closed when the stream is dropped, which
            // sends the FIN a `shutdown` would (see `SharedWriter`).
            WsIo::Tcp { .. } => Poll::Ready(Ok(())),
            WsIo::Upgraded(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}

/// The writing half of a WebSocket's TCP stream, shared between the session's task and
/// the senders that write to an idle session (see `socket.rs`).
///
/// Dropped without tokio's `shutdown(Write)`: the stream is closed right after, and
/// closing sends the same FIN. After a client's close the `shutdown` was one system call
/// per connection, failing (the client had already gone) in all 2 000 of a `sio-load
/// connect --conns 2000` run (`strace -c`).
pub(crate) struct SharedWriter(Option<OwnedWriteHalf>);

impl SharedWriter {
    pub(crate) fn new(write: OwnedWriteHalf) -> Self {
        SharedWriter(Some(write))
    }

    /// The stream, to write to by reference.
    pub(crate) fn stream(&self) -> std::io::Result<&tokio::net::TcpStream> {
        match &self.0 {
            Some(write) => Ok(write.as_ref()),
            // Only while dropped.
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }
}

impl Drop for SharedWriter {
    fn drop(&mut self) {
        if let Some(write) = self.0.take() {
            write.forget();
        }
    }
}

/// One write on a stream shared by reference, doing what tokio's own `poll_write` does
/// and its `try_write` does not: a write that takes fewer bytes than offered clears the
/// readiness it was attempted under, so that the next one waits for the reactor instead
/// of making a system call that fails with `WouldBlock`. The readiness cleared is the one
/// seen before the write, so an event that arrives meanwhile is not lost.
fn poll_write(
    stream: &tokio::net::TcpStream,
    cx: &mut Context<'_>,
    len: usize,
    mut write: impl FnMut() -> std::io::Result<usize>,
) -> Poll<std::io::Result<usize>> {
    // The task's budget, as tokio's own I/O keeps it.
    let coop = ready!(tokio::task::coop::poll_proceed(cx));
    loop {
        // Tried first: `try_io` refuses without a system call when the stream is known
        // not to be ready; only then is the readiness polled, which registers the waker.
        let mut short = None;
        let result = stream.try_io(Interest::WRITABLE, || match write() {
            // Not on Windows, where tokio does not either.
            Ok(n) if cfg!(not(windows)) && n > 0 && n < len => {
                short = Some(n);
                Err(std::io::ErrorKind::WouldBlock.into())
            }
            other => other,
        });
        match (result, short) {
            (Err(error), None) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            (result, short) => {
                coop.made_progress();
                return Poll::Ready(short.map_or(result, Ok));
            }
        }
        ready!(stream.poll_write_ready(cx))?;
    }
}

/// A plain `send` on a stream shared by reference, as tokio's writes and the direct
/// writes of `write_now` use: no SIGPIPE for a peer that is gone, as the standard
/// library's own writes. (A direct write must not go through tokio's `try_write`, which
/// first reads the stream's readiness from the reactor's state: one more cache miss per
/// receiver of a broadcast, user time per fanout delivery 1.08/1.04/0.78 -> 0.88/0.75/0.62
/// µs with `sio-load fanout --receivers 1000` against both builds in turn. Should the
/// socket be full, tokio's stale readiness costs the session's task one `WouldBlock`.)
fn send(stream: &tokio::net::TcpStream, bytes: &[u8]) -> std::io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let flags = libc::MSG_NOSIGNAL;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let flags = 0;
    SockRef::from(stream).send_with_flags(bytes, flags)
}

/// How long a WebSocket being closed may take to send its close frame and hear the peer's.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Why a request that asks for a WebSocket cannot have one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HandshakeError {
    /// `Sec-WebSocket-Version` is missing or not 13.
    Version,
    /// `Sec-WebSocket-Key` is missing or not 16 bytes in base64.
    Key,
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    })
}

/// Whether the request asks to upgrade to WebSocket (`Connection: upgrade` and
/// `Upgrade: websocket`). Other upgrades, such as `h2c`, are not WebSocket requests.
pub(crate) fn is_websocket_request(headers: &HeaderMap) -> bool {
    has_token(headers, header::CONNECTION, "upgrade")
        && has_token(headers, header::UPGRADE, "websocket")
}

/// Checks the version and key of an opening handshake and computes the
/// `Sec-WebSocket-Accept` answer.
pub(crate) fn accept_key(headers: &HeaderMap) -> Result<HeaderValue, HandshakeError> {
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|version| version.as_bytes() != b"13")
    {
        return Err(HandshakeError::Version);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or(HandshakeError::Key)?;
    let decoded = STANDARD
        .decode(key.as_bytes())
        .map_err(|_| HandshakeError::Key)?;
    if decoded.len() != 16 {
        return Err(HandshakeError::Key);
    }
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = STANDARD.encode(sha1.digest().bytes());
    HeaderValue::from_str(&accept).map_err(|_| HandshakeError::Key)
}

/// Wraps an upgraded connection in a server WebSocket whose messages may not exceed
/// `max_payload` bytes.
pub(crate) fn websocket(io: Upgraded, max_payload: usize) -> WsStream {
    WsStream::new(WsIo::new(io), max_payload)
}

/// Closes a WebSocket in the background: sends a close frame (or the one queued after a
/// protocol error), waits briefly for the peer's, then drops the connection.
pub(crate) fn close_in_background(mut ws: WsStream) {
    tokio::spawn(async move {
        let close = std::future::poll_fn(|cx| ws.poll_close(cx));
        let _ = tokio::time::timeout(CLOSE_LINGER, close).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn accept_key_of_the_rfc_example() {
        let headers = headers(&[
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        assert_eq!(
            accept_key(&headers).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn bad_versions_and_keys_are_refused() {
        let bad_version = headers(&[
            ("sec-websocket-version", "8"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        assert_eq!(accept_key(&bad_version), Err(HandshakeError::Version));
        let short_key = headers(&[
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "AAAA"),
        ]);
        assert_eq!(accept_key(&short_key), Err(HandshakeError::Key));
        let no_key = headers(&[("sec-websocket-version", "13")]);
        assert_eq!(accept_key(&no_key), Err(HandshakeError::Key));
    }

    #[test]
    fn only_websocket_upgrades_count() {
        assert!(is_websocket_request(&headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
        ])));
        assert!(!is_websocket_request(&headers(&[
            ("connection", "Upgrade, HTTP2-Settings"),
            ("upgrade", "h2c"),
        ])));
        assert!(!is_websocket_request(&headers(&[("upgrade", "websocket")])));
    }
}
