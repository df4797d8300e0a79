//! A server WebSocket connection with no buffers of its own while idle.
//!
//! Reads land in one 64 KiB buffer per worker thread and are decoded at once by the
//! sans-IO [`FrameDecoder`], which keeps only a cut frame's state; writes are gathered
//! from the connection's queue into another per-thread buffer and sent with one `write`.
//! An idle connection therefore holds no read or write buffer at all.
//!
//! Measured with `bench/run.sh connect --conns 10000` (resident memory per held
//! connection): 11.2 KB on tokio-websockets, whose 8 KiB read buffer per connection was
//! most of it (valgrind's dhat), 6.6 KB with this stream (`docs/benchmarks.md`).

use std::cell::RefCell;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use engineio_proto::queue::Queue;
use engineio_proto::websocket::{
    FrameDecoder, Opcode, WsError, WsMessage, close_payload, encode_header,
};
use engineio_proto::{DecodeError, Frame, Message, Packet};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::{SharedWriter, WsIo, send};

/// The per-thread buffers' size: one read takes up to this much, one write sends up to it.
const SCRATCH: usize = 64 * 1024;

thread_local! {
    static READ_SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Frames are copied here and written with one `write`: the kernel spent about 2 µs
    /// more per `writev` of header and payload than per `send` of the same bytes
    /// (bench/run.sh echo, 64 B: 7.8 against 5.8 µs per echo).
    static WRITE_SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// What a WebSocket message means to the session.
pub(crate) enum Incoming {
    Packet(Result<Packet, DecodeError>),
    /// The peer closed the WebSocket.
    Close,
    /// A ping arrived; the pong is queued and goes out with the next flush.
    Control,
}

/// Why reading stopped with an error.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer broke the protocol; a close frame with the matching code is queued.
    Protocol(WsError),
    Io(std::io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Protocol(error) => write!(f, "{error} (close {})", error.code()),
            ReadError::Io(error) => error.fmt(f),
        }
    }
}

/// How reading ended, reported once the messages before it are taken.
enum ReadEnd {
    Eof,
    Error(ReadError),
}

/// A frame waiting to be written.
struct OutFrame {
    header: [u8; 10],
    header_len: u8,
    payload: Bytes,
}

impl OutFrame {
    fn new(opcode: Opcode, payload: Bytes) -> Self {
        let (header, header_len) = encode_header(opcode, payload.len());
        OutFrame {
            header,
            header_len: header_len as u8,
            payload,
        }
    }

    /// Bytes already framed: the rest of a frame another writer began.
    fn raw(bytes: Bytes) -> Self {
        OutFrame {
            header: [0; 10],
            header_len: 0,
            payload: bytes,
        }
    }

    fn len(&self) -> usize {
        self.header_len as usize + self.payload.len()
    }
}

/// How a write straight to the socket went (see [`write_now`]).
pub(crate) enum WriteNow {
    /// Every byte was written.
    Done,
    /// Nothing was written (the socket's buffer is full, the frames are larger than one
    /// write, or the write failed): queue the messages as usual.
    NotWritten,
    /// Part was written; these bytes must go out next, before anything else.
    Partial(Bytes),
}

/// Writes `messages` as WebSocket frames straight to `stream` with one non-blocking write,
/// for a sender that found the session idle (see `Shared::push_message`). The caller
/// guarantees that no other write to the stream can happen meanwhile.
pub(crate) fn write_now(stream: &TcpStream, messages: &[Message]) -> WriteNow {
    WRITE_SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        scratch.clear();
        for message in messages {
            let (opcode, payload) = match message {
                Message::Text(text) => (Opcode::Text, &text.encoded()[..]),
                Message::Binary(data) => (Opcode::Binary, &data[..]),
            };
            if scratch.len() + 10 + payload.len() > SCRATCH {
                return WriteNow::NotWritten;
            }
            let (header, header_len) = encode_header(opcode, payload.len());
            scratch.extend_from_slice(&header[..header_len]);
            scratch.extend_from_slice(payload);
        }
        match send(stream, &scratch) {
            Ok(n) if n == scratch.len() => WriteNow::Done,
            Ok(n) if n > 0 => WriteNow::Partial(Bytes::copy_from_slice(&scratch[n..])),
            // Would block, or failed: the session's task meets the error on its next
            // read or write and closes the session.
            Ok(_) | Err(_) => WriteNow::NotWritten,
        }
    })
}

/// Copies the queued frames' bytes, from `written` bytes into the first, to `out` until it
/// holds `limit` bytes or the frames end.
fn gather(outbox: &Queue<OutFrame>, written: usize, out: &mut Vec<u8>, limit: usize) {
    let mut skip = written;
    for frame in outbox {
        for part in [
            &frame.header[..frame.header_len as usize],
            &frame.payload[..],
        ] {
            if skip >= part.len() {
                skip -= part.len();
                continue;
            }
            let take = (part.len() - skip).min(limit - out.len());
            out.extend_from_slice(&part[skip..skip + take]);
            skip = 0;
            if out.len() == limit {
                return;
            }
        }
    }
}

/// Drops what a write of `n` bytes sent from the front of `outbox`; `written` is how much
/// of the front frame had gone before.
fn advance(outbox: &mut Queue<OutFrame>, written: &mut usize, mut n: usize) {
    while let Some(front) = outbox.front() {
        let left = front.len() - *written;
        if n < left {
            *written += n;
            return;
        }
        n -= left;
        *written = 0;
        outbox.pop_front();
    }
}

/// A server-side WebSocket: Engine.IO packets in and out, pings answered, the closing
/// handshake, and frames checked by [`FrameDecoder`].
pub(crate) struct WsStream {
    io: WsIo,
    decoder: FrameDecoder,
    /// Messages decoded from the last read and not yet taken.
    inbox: Queue<Incoming>,
    /// How reading ended, once it has; reported after `inbox`.
    read_end: Option<ReadEnd>,
    /// Reading is over and its end was reported.
    read_done: bool,
    outbox: Queue<OutFrame>,
    /// Bytes of the front frame of `outbox` already written.
    written: usize,
    /// The answer to the latest ping, not yet queued. Only the latest is answered (RFC
    /// 6455, 5.5.3), so a peer that pings without reading cannot grow the queue.
    pong: Option<Bytes>,
    /// A close frame is queued; nothing is sent after it.
    close_queued: bool,
}

impl WsStream {
    pub(super) fn new(io: WsIo, max_payload: usize) -> Self {
        WsStream {
            io,
            decoder: FrameDecoder::new(max_payload),
            inbox: Queue::new(),
            read_end: None,
            read_done: false,
            outbox: Queue::new(),
            written: 0,
            pong: None,
            close_queued: false,
        }
    }

    /// The next message, reading from the connection when none is waiting. `None` once
    /// the peer has closed the connection (after a close frame, or at end of stream).
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Incoming, ReadError>>> {
        loop {
            if let Some(message) = self.inbox.pop_front() {
                return Poll::Ready(Some(Ok(message)));
            }
            if let Some(end) = self.read_end.take() {
                self.read_done = true;
                return Poll::Ready(match end {
                    ReadEnd::Eof => None,
                    ReadEnd::Error(error) => Some(Err(error)),
                });
            }
            if self.read_done {
                return Poll::Ready(None);
            }
            ready!(self.poll_read(cx));
        }
    }

    /// Reads once into the thread's buffer and decodes all of it.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        READ_SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            if scratch.is_empty() {
                scratch.resize(SCRATCH, 0);
            }
            let mut buf = ReadBuf::new(&mut scratch[..]);
            let read = Pin::new(&mut self.io).poll_read(cx, &mut buf);
            let n = buf.filled().len();
            match read {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => {
                    self.read_end = Some(ReadEnd::Error(ReadError::Io(error)));
                }
                Poll::Ready(Ok(())) if n == 0 => self.read_end = Some(ReadEnd::Eof),
                Poll::Ready(Ok(())) => self.absorb(&scratch[..n]),
            }
            Poll::Ready(())
        })
    }

    fn absorb(&mut self, mut input: &[u8]) {
        while self.read_end.is_none() {
            match self.decoder.decode(&mut input) {
                Ok(None) => return,
                Ok(Some(WsMessage::Text(text))) => {
                    self.inbox
                        .push_back(Incoming::Packet(Packet::decode_ws_text(text)));
                }
                Ok(Some(WsMessage::Binary(data))) => {
                    self.inbox
                        .push_back(Incoming::Packet(Ok(Packet::decode_binary(data))));
                }
                Ok(Some(WsMessage::Ping(payload))) => {
                    if !self.close_queued {
                        self.pong = Some(payload);
                        self.inbox.push_back(Incoming::Control);
                    }
                }
                Ok(Some(WsMessage::Pong)) => {}
                Ok(Some(WsMessage::Close(code))) => {
                    // Answer with the peer's code (RFC 6455, 5.5.1), unless we closed first.
                    self.queue_close(code.map_or_else(Bytes::new, close_payload));
                    self.inbox.push_back(Incoming::Close);
                    self.read_end = Some(ReadEnd::Eof);
                }
                Err(error) => {
                    self.queue_close(close_payload(error.code()));
                    self.read_end = Some(ReadEnd::Error(ReadError::Protocol(error)));
                }
            }
        }
    }

    /// Queues a packet. False once the WebSocket is closing (the packet is dropped).
    pub(crate) fn send(&mut self, packet: Packet) -> bool {
        if self.close_queued {
            return false;
        }
        self.outbox.push_back(match packet.into_frame() {
            Frame::Text(text) => OutFrame::new(Opcode::Text, text),
            Frame::Binary(data) => OutFrame::new(Opcode::Binary, data),
        });
        true
    }

    /// Queues bytes already framed, ahead of what is queued later (the rest of a frame
    /// written in part by [`write_now`]).
    pub(crate) fn send_raw(&mut self, bytes: Bytes) {
        self.outbox.push_back(OutFrame::raw(bytes));
    }

    /// The TCP stream, if others may write to it now: the connection is a plain TCP
    /// stream and everything queued here has been written (no pong waits, no close).
    pub(crate) fn idle_stream(&self) -> Option<&std::sync::Arc<SharedWriter>> {
        match &self.io {
            WsIo::Tcp { write, .. }
                if self.outbox.is_empty() && self.pong.is_none() && !self.close_queued =>
            {
                Some(write)
            }
            _ => None,
        }
    }

    fn queue_close(&mut self, payload: Bytes) {
        if !self.close_queued {
            self.close_queued = true;
            self.pong = None;
            self.outbox.push_back(OutFrame::new(Opcode::Close, payload));
        }
    }

    /// Writes everything queued.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        loop {
            if self.outbox.is_empty() {
                // The pong joins only an empty queue: a peer that pings and never reads
                // holds one pending pong, not one per ping.
                let Some(pong) = self.pong.take() else { break };
                self.outbox.push_back(OutFrame::new(Opcode::Pong, pong));
            }
            let written = ready!(WRITE_SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                scratch.clear();
                gather(&self.outbox, self.written, &mut scratch, SCRATCH);
                Pin::new(&mut self.io).poll_write(cx, &scratch)
            }))?;
            if written == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            advance(&mut self.outbox, &mut self.written, written);
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// The closing handshake: sends a close frame (normal closure, unless one is already
    /// queued), waits for the peer's close or the end of its stream, then shuts the
    /// connection down. Callers bound the wait.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.queue_close(close_payload(1000));
        ready!(self.poll_flush(cx))?;
        while let Some(Ok(_)) = ready!(self.poll_next(cx)) {}
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(sizes: &[usize]) -> (Queue<OutFrame>, Vec<u8>) {
        let mut queue = Queue::new();
        let mut wire = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            let payload: Vec<u8> = (0..size).map(|j| (i * 7 + j) as u8).collect();
            let frame = OutFrame::new(Opcode::Binary, payload.into());
            wire.extend_from_slice(&frame.header[..frame.header_len as usize]);
            wire.extend_from_slice(&frame.payload);
            queue.push_back(frame);
        }
        (queue, wire)
    }

    /// Writes the queue through a buffer of `limit` bytes, the "socket" taking at most
    /// `accept` bytes per write, and returns what went out.
    fn drain(mut queue: Queue<OutFrame>, limit: usize, accept: usize) -> Vec<u8> {
        let (mut written, mut sent) = (0, Vec::new());
        while !queue.is_empty() {
            let mut buf = Vec::new();
            gather(&queue, written, &mut buf, limit);
            assert!(!buf.is_empty() && buf.len() <= limit);
            let n = buf.len().min(accept);
            sent.extend_from_slice(&buf[..n]);
            advance(&mut queue, &mut written, n);
        }
        sent
    }

    #[test]
    fn partial_writes_and_a_full_buffer_cut_anywhere_send_every_byte_once() {
        // Headers of 2, 4 and 10 bytes; a buffer limit that falls inside headers.
        let sizes = [5, 0, 125, 126, 300, 70_000, 1];
        for limit in [1, 3, 7, 11, 64, 1000, SCRATCH] {
            for accept in [1, 2, 5, 9, 100, usize::MAX] {
                let (queue, wire) = frames(&sizes);
                assert_eq!(
                    drain(queue, limit, accept),
                    wire,
                    "limit {limit} accept {accept}"
                );
            }
        }
    }

    #[test]
    fn a_frame_one_byte_short_of_the_buffer_then_another() {
        // 65 531 bytes of payload + a 4-byte header fill all but one byte of the buffer;
        // the next frame's header is cut after its first byte.
        let (queue, wire) = frames(&[SCRATCH - 5, 10]);
        assert_eq!(drain(queue, SCRATCH, usize::MAX), wire);
    }
}
