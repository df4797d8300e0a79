//! A client WebSocket: hyper makes the opening handshake (RFC 6455, 4.1) and hands over the
//! connection; the frames are the project's own (`engineio_proto::websocket`), masked on
//! the way out. Reads go through one buffer per thread: an idle connection keeps no read
//! buffer, only the decoder's state.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use base64::Engine as _;
use bytes::Bytes;
use engineio_proto::websocket::{
    FrameDecoder, Opcode, WsMessage, close_payload, encode_client_frame,
};
use engineio_proto::{Frame, Packet};
use http::header::{CONNECTION, HOST, HeaderName, HeaderValue, UPGRADE};
use http::{Request, StatusCode, Uri};
use http_body_util::Empty;
use hyper::upgrade::Upgraded;
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower_service::Service;

use super::net::{Connector, describe};
use crate::runtime::Incoming;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Once written out, a write buffer larger than this is given back.
const KEEP_WRITE_BUFFER: usize = 64 * 1024;

thread_local! {
    static READ_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 * 1024]);
}

/// Opens a WebSocket to `url` (`ws://` or `wss://`).
pub(crate) async fn connect(
    mut connector: Connector,
    url: &str,
    headers: &[(HeaderName, HeaderValue)],
    max_payload: usize,
) -> Result<WebSocket, String> {
    let uri: Uri = url
        .parse()
        .map_err(|error: http::uri::InvalidUri| error.to_string())?;
    let secure = uri.scheme_str() == Some("wss");
    let authority = uri
        .authority()
        .ok_or_else(|| "no host in the WebSocket URL".to_owned())?
        .clone();
    let target = Uri::builder()
        .scheme(if secure { "https" } else { "http" })
        .authority(authority.clone())
        .path_and_query("/")
        .build()
        .map_err(|error| error.to_string())?;
    std::future::poll_fn(|cx| connector.poll_ready(cx))
        .await
        .map_err(|error| describe(&*error))?;
    let stream = connector
        .call(target)
        .await
        .map_err(|error| describe(&*error))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(stream)
        .await
        .map_err(|error| describe(&error))?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "WebSocket handshake connection");
        }
    });
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = Request::get(path)
        .header(HOST, authority.as_str())
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "Upgrade")
        .header("sec-websocket-key", &key)
        .header("sec-websocket-version", "13");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|error| error.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| describe(&error))?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(format!("HTTP {}", response.status().as_u16()));
    }
    let expected = accept_key(&key);
    let accepted = response
        .headers()
        .get("sec-websocket-accept")
        .is_some_and(|value| value.as_bytes() == expected.as_bytes());
    if !accepted {
        return Err("the server did not accept the WebSocket key".to_owned());
    }
    let upgraded = hyper::upgrade::on(response)
        .await
        .map_err(|error| describe(&error))?;
    // The stream itself, out of hyper's upgraded box: a read through the box went
    // through four layers (callgrind, `bench/client.sh ack`: ~1 000 instructions per ack).
    let (io, early) = match upgraded.downcast::<MaybeHttpsStream<TokioIo<TcpStream>>>() {
        Ok(parts) => {
            let io = match parts.io {
                MaybeHttpsStream::Http(tcp) => Io::Plain(tcp.into_inner()),
                MaybeHttpsStream::Https(tls) => Io::Tls(Box::new(tls.into_inner())),
            };
            (io, parts.read_buf)
        }
        Err(upgraded) => (Io::Upgraded(TokioIo::new(upgraded)), Bytes::new()),
    };
    let mut socket = WebSocket::new(io, max_payload);
    // Bytes the server sent right behind its 101 (its `open` packet, say).
    socket.decode(&mut &early[..]);
    Ok(socket)
}

/// The connection under a WebSocket.
enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TokioIo<TokioIo<TcpStream>>>>),
    Upgraded(TokioIo<Upgraded>),
}

macro_rules! on_io {
    ($io:expr, $stream:ident => $body:expr) => {
        match $io {
            Io::Plain($stream) => $body,
            Io::Tls($stream) => $body,
            Io::Upgraded($stream) => $body,
        }
    };
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        on_io!(self.get_mut(), stream => Pin::new(stream).poll_read(cx, buf))
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        on_io!(self.get_mut(), stream => Pin::new(stream).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        on_io!(self.get_mut(), stream => Pin::new(stream).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        on_io!(self.get_mut(), stream => Pin::new(stream).poll_shutdown(cx))
    }
}

fn accept_key(key: &str) -> String {
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha1.digest().bytes())
}

/// An open client WebSocket. See the [module docs](self).
pub(crate) struct WebSocket {
    io: Io,
    decoder: FrameDecoder,
    /// Frames to write, from `written` on.
    out: Vec<u8>,
    written: usize,
    /// What was decoded and not yet handed out.
    received: VecDeque<Incoming>,
    /// Reading is over (a close frame, the end, an error).
    done: bool,
    close_sent: bool,
    /// A pong is queued and not yet written: a peer that pings without reading gets one
    /// answer, not a growing pile (RFC 6455, 5.5.3, lets the latest stand for all).
    pong_queued: bool,
}

impl WebSocket {
    fn new(io: Io, max_payload: usize) -> Self {
        WebSocket {
            io,
            decoder: FrameDecoder::client(max_payload),
            out: Vec::new(),
            written: 0,
            received: VecDeque::new(),
            done: false,
            close_sent: false,
            pong_queued: false,
        }
    }

    fn frame(&mut self, opcode: Opcode, payload: &[u8]) {
        encode_client_frame(opcode, payload, super::mask(), &mut self.out);
    }

    /// Whether decoded messages wait to be taken.
    pub(crate) fn has_received(&self) -> bool {
        !self.received.is_empty()
    }

    /// Whether frames wait to be written (pongs, a close reply).
    pub(crate) fn has_unwritten(&self) -> bool {
        self.written < self.out.len()
    }

    /// Queues packets, one frame each; [`poll_flush`](Self::poll_flush) writes them.
    pub(crate) fn send(&mut self, packets: Vec<Packet>) {
        for packet in packets {
            match packet.into_frame() {
                Frame::Text(text) => self.frame(Opcode::Text, &text),
                Frame::Binary(data) => self.frame(Opcode::Binary, &data),
            }
        }
    }

    fn close_frame(&mut self, code: u16) {
        if !self.close_sent {
            self.close_sent = true;
            self.frame(Opcode::Close, &close_payload(code));
        }
    }

    /// Writes everything queued. An error means the connection is gone.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        while self.written < self.out.len() {
            match ready!(Pin::new(&mut self.io).poll_write(cx, &self.out[self.written..])) {
                Ok(0) => return Poll::Ready(Err("connection closed".to_owned())),
                Ok(n) => self.written += n,
                Err(error) => return Poll::Ready(Err(error.to_string())),
            }
        }
        self.out.clear();
        self.written = 0;
        self.pong_queued = false;
        if self.out.capacity() > KEEP_WRITE_BUFFER {
            self.out = Vec::new();
        }
        Pin::new(&mut self.io)
            .poll_flush(cx)
            .map_err(|error| error.to_string())
    }

    /// Closes with status 1000 after writing what is queued.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.close_frame(1000);
        if ready!(self.poll_flush(cx)).is_err() {
            return Poll::Ready(());
        }
        let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
        Poll::Ready(())
    }

    /// The next thing received.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Incoming> {
        loop {
            if let Some(incoming) = self.received.pop_front() {
                return Poll::Ready(incoming);
            }
            if self.done {
                return Poll::Ready(Incoming::Closed);
            }
            let read = READ_BUFFER.with(|buffer| {
                let mut buffer = buffer.borrow_mut();
                let mut read_buf = ReadBuf::new(&mut buffer[..]);
                match Pin::new(&mut self.io).poll_read(cx, &mut read_buf) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(_)) => Poll::Ready(false),
                    Poll::Ready(Ok(())) if read_buf.filled().is_empty() => Poll::Ready(false),
                    Poll::Ready(Ok(())) => {
                        let mut input = read_buf.filled();
                        self.decode(&mut input);
                        Poll::Ready(true)
                    }
                }
            });
            match read {
                // Pongs queued by what was decoded are written by the driver's flush.
                Poll::Pending => return Poll::Pending,
                // The end of the stream, or a read error: the official client (`ws` in
                // Node) sees both as a close.
                Poll::Ready(false) => self.done = true,
                Poll::Ready(true) => {}
            }
        }
    }

    fn decode(&mut self, input: &mut &[u8]) {
        while !self.done {
            match self.decoder.decode(input) {
                Ok(None) => return,
                Ok(Some(WsMessage::Text(text))) => {
                    self.received.push_back(match Packet::decode_ws_text(text) {
                        Ok(packet) => Incoming::Packet(packet),
                        Err(_) => Incoming::Undecodable,
                    })
                }
                Ok(Some(WsMessage::Binary(data))) => self
                    .received
                    .push_back(Incoming::Packet(Packet::decode_binary(data))),
                Ok(Some(WsMessage::Ping(payload))) => {
                    if !self.pong_queued {
                        self.pong_queued = true;
                        self.frame(Opcode::Pong, &payload);
                    }
                }
                Ok(Some(WsMessage::Pong)) => {}
                Ok(Some(WsMessage::Close(_))) => {
                    self.close_frame(1000);
                    self.done = true;
                }
                Err(error) => {
                    self.close_frame(error.code());
                    self.received.push_back(Incoming::Error(error.to_string()));
                    self.done = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_of_rfc_6455() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
