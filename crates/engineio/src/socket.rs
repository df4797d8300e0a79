//! The handle an application holds for a session, and the state it shares with the
//! session's task.
//!
//! One task owns each session (see `driver.rs`). Everything else reaches it through
//! [`Shared`]: a queue of outgoing messages bounded in bytes, a queue of requests from the
//! HTTP side (long-polling GETs and POSTs, a WebSocket probing for an upgrade), and a waker.
//! Both queues sit behind one short-held mutex; an idle session's queues allocate nothing,
//! which keeps a held connection small.
//!
//! One exception to the task's ownership: while the task is parked with nothing left to
//! write on its WebSocket, the right to write is handed to the mutex, and a sender that
//! finds the queue empty writes its message to the socket itself, holding the mutex
//! (`Shared::write_now`). The task takes the right back with the mutex at the start of
//! its next round, before it writes. A broadcast then costs each idle receiver one `send`
//! instead of a wake and a round of its task (fanout per delivery: 2 973 -> 859
//! instructions; `docs/benchmarks.md`). A caller holding a lock others wait on leaves
//! its messages to the task instead ([`EngineSocket::try_enqueue`]): a write is a
//! system call.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use atomic_waker::AtomicWaker;
use bytes::Bytes;
use engineio_proto::queue::Queue;
use engineio_proto::{Message, PollError, Sid, TransportKind};
use http::request::Parts;

use tokio::sync::{Notify, oneshot};

use crate::head::RequestHead;
use crate::ws::{SharedWriter, WriteNow, WsStream, write_now};

/// A message could not be queued without waiting.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError {
    /// The session's outgoing queue holds `max_buffered_bytes` already: the client reads
    /// slower than the server writes. Try later, wait with [`EngineSocket::send`], drop
    /// the message, or close the session.
    Full(Message),
    /// The session is closed; the message is returned.
    Closed(Message),
}

impl fmt::Display for TrySendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the session's outgoing buffer is full"),
            TrySendError::Closed(_) => f.write_str("the session is closed"),
        }
    }
}

impl std::error::Error for TrySendError {}

/// The session closed before the message could be queued; the message is returned.
#[derive(Debug, PartialEq, Eq)]
pub struct SendError(pub Message);

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the session is closed")
    }
}

impl std::error::Error for SendError {}

/// What the session's task answers a long-polling GET.
#[derive(Debug)]
pub(crate) enum PollReply {
    Payload(Bytes),
    Refused(PollError),
}

/// Why the session's task refused a POST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PostError {
    /// The body is not a valid payload; the session is closed.
    Parse,
    /// The session runs on WebSocket now.
    TransportMismatch,
    /// The session is closed.
    Closed,
}

/// How the application asked the session to close.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CloseRequest {
    #[default]
    None,
    /// Send what is queued; long-polling waits for a GET up to the close timeout.
    Graceful,
    /// Server shutdown: send what is queued; long-polling waits for a GET at most this long
    /// (the shutdown's grace period), so that clients between two GETs still receive the
    /// `close` packet instead of a 400 for an unknown session.
    Within(Duration),
}

/// Work for the session's task from the HTTP side.
pub(crate) enum SessionRequest {
    Poll(oneshot::Sender<PollReply>),
    Post {
        body: Bytes,
        reply: oneshot::Sender<Result<(), PostError>>,
    },
    Probe(Box<WsStream>),
    /// The HTTP side saw the transport fail (overlapping POSTs, an oversized body).
    TransportError,
}

#[derive(Default)]
pub(crate) struct QueueState {
    pub(crate) outbox: Queue<Message>,
    outbox_bytes: usize,
    pub(crate) requests: Queue<SessionRequest>,
    pub(crate) close_requested: CloseRequest,
    closed: bool,
    /// The task is running and will look at the queues before it sleeps: no wake needed.
    driver_active: bool,
    /// A sender waits in [`EngineSocket::send`] for room.
    space_wanted: bool,
    /// The session's WebSocket connection, while it runs on one over plain TCP.
    stream: Option<Arc<SharedWriter>>,
    /// The task is parked with nothing left to write on `stream`: a sender that finds the
    /// queue empty writes its message to the socket itself (see [`Shared::write_now`]).
    stream_idle: bool,
    /// The rest of a frame a sender could write only in part; the task writes it first.
    stream_rest: Option<Box<Bytes>>,
}

/// State shared between a session's task and everyone else.
pub(crate) struct Shared {
    pub(crate) sid: Sid,
    /// A number for logs: the session id is a bearer token and is never logged.
    pub(crate) log_id: u64,
    request: RequestHead,
    queues: Mutex<QueueState>,
    waker: AtomicWaker,
    space: Notify,
    max_buffered_bytes: usize,
    /// A long-polling POST is being read (only one at a time keeps packets in order).
    pub(crate) post_active: AtomicBool,
    transport: AtomicU8,
    /// Nothing is queued and the transport can write at once (WebSocket idle, or a
    /// long-polling GET waiting).
    writable: AtomicBool,
}

impl Shared {
    pub(crate) fn new(
        sid: Sid,
        request: Parts,
        transport: TransportKind,
        max_buffered_bytes: usize,
    ) -> Self {
        static NEXT_LOG_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Shared {
            sid,
            log_id: NEXT_LOG_ID.fetch_add(1, Ordering::Relaxed),
            request: RequestHead::new(request),
            queues: Mutex::new(QueueState::default()),
            waker: AtomicWaker::new(),
            space: Notify::new(),
            max_buffered_bytes,
            post_active: AtomicBool::new(false),
            transport: AtomicU8::new(transport as u8),
            writable: AtomicBool::new(false),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Every critical section is a few queue operations that cannot leave the state
        // half-updated, so a poisoned lock is still consistent.
        self.queues
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Queues a message, or writes it at once if `write` allows and the session is idle.
    fn push_message(&self, message: Message, write: bool) -> Result<(), TrySendError> {
        let len = message.len();
        let mut queues = self.lock();
        if queues.closed {
            return Err(TrySendError::Closed(message));
        }
        // One message always fits in an empty queue, however large.
        if !queues.outbox.is_empty() && queues.outbox_bytes + len > self.max_buffered_bytes {
            queues.space_wanted = true;
            return Err(TrySendError::Full(message));
        }
        if write && self.write_now(&mut queues, std::slice::from_ref(&message)) {
            return Ok(());
        }
        queues.outbox.push_back(message);
        queues.outbox_bytes += len;
        self.wake_after_push(queues);
        Ok(())
    }

    /// Queues several messages together: all or none, and no other sender's message
    /// between them.
    fn push_messages(&self, messages: &[Message], write: bool) -> Result<(), BatchError> {
        let len: usize = messages.iter().map(Message::len).sum();
        let mut queues = self.lock();
        if queues.closed {
            return Err(BatchError::Closed);
        }
        if !queues.outbox.is_empty() && queues.outbox_bytes + len > self.max_buffered_bytes {
            queues.space_wanted = true;
            return Err(BatchError::Full);
        }
        if write && self.write_now(&mut queues, messages) {
            return Ok(());
        }
        queues.outbox.extend(messages.iter().cloned());
        queues.outbox_bytes += len;
        self.wake_after_push(queues);
        Ok(())
    }

    /// Writes the messages to the WebSocket at once if the session's task is parked with
    /// nothing to write: the task is neither woken nor run for them. The queue's lock is
    /// held across the write, and the task writes only after taking that lock to start a
    /// round (`take`), so writes never interleave. True if the messages are dealt with.
    ///
    /// Measured with `bench/run.sh fanout --receivers 1000` (server on one core): the
    /// wake and round of the receiver's task cost about 1 900 of the 2 900 instructions
    /// of a delivery, and most of its user time in cache misses (`docs/benchmarks.md`).
    fn write_now(&self, queues: &mut MutexGuard<'_, QueueState>, messages: &[Message]) -> bool {
        if !queues.stream_idle || !queues.outbox.is_empty() {
            return false;
        }
        let Some(Ok(stream)) = queues.stream.as_deref().map(SharedWriter::stream) else {
            return false;
        };
        match write_now(stream, messages) {
            WriteNow::Done => true,
            WriteNow::NotWritten => {
                queues.stream_idle = false;
                self.writable.store(false, Ordering::Release);
                false
            }
            WriteNow::Partial(rest) => {
                queues.stream_idle = false;
                queues.stream_rest = Some(Box::new(rest));
                self.writable.store(false, Ordering::Release);
                // The task finishes the frame.
                self.waker.wake();
                true
            }
        }
    }

    fn wake_after_push(&self, queues: MutexGuard<'_, QueueState>) {
        let wake = !queues.driver_active;
        drop(queues);
        if wake {
            self.waker.wake();
        }
    }

    /// Hands work to the session's task; gives the request back if the session is closed.
    pub(crate) fn push_request(&self, request: SessionRequest) -> Result<(), SessionRequest> {
        let mut queues = self.lock();
        if queues.closed {
            return Err(request);
        }
        queues.requests.push_back(request);
        let wake = !queues.driver_active;
        drop(queues);
        if wake {
            self.waker.wake();
        }
        Ok(())
    }

    pub(crate) fn request_close(&self, how: CloseRequest) {
        let mut queues = self.lock();
        if queues.closed {
            return;
        }
        queues.close_requested = queues.close_requested.max(how);
        let wake = !queues.driver_active;
        drop(queues);
        if wake {
            self.waker.wake();
        }
    }

    /// For the task: takes the pending requests and, if `take_outbox`, the queued messages,
    /// swapping in the caller's empty queues (an idle session holds no allocation).
    /// Messages are always taken when a close was requested, so that they go out first.
    /// Returns the close request, if any, and the rest of a frame a sender wrote in part
    /// (to be written before anything else).
    pub(crate) fn take(
        &self,
        requests: &mut Queue<SessionRequest>,
        outbox: &mut Queue<Message>,
        take_outbox: bool,
    ) -> (CloseRequest, Option<Bytes>) {
        let mut queues = self.lock();
        queues.driver_active = true;
        queues.stream_idle = false;
        std::mem::swap(&mut queues.requests, requests);
        let closing = queues.close_requested != CloseRequest::None;
        let notify = (take_outbox || closing) && Self::swap_outbox(&mut queues, outbox);
        let close = std::mem::take(&mut queues.close_requested);
        let rest = queues.stream_rest.take().map(|rest| *rest);
        drop(queues);
        if notify {
            self.space.notify_waiters();
        }
        (close, rest)
    }

    /// For the task, during its round: takes the messages queued since `take`.
    pub(crate) fn take_outbox(&self, outbox: &mut Queue<Message>) {
        let notify = Self::swap_outbox(&mut self.lock(), outbox);
        if notify {
            self.space.notify_waiters();
        }
    }

    /// Swaps a non-empty outbox for `outbox`; true if senders wait for room.
    fn swap_outbox(queues: &mut QueueState, outbox: &mut Queue<Message>) -> bool {
        if queues.outbox.is_empty() {
            return false;
        }
        std::mem::swap(&mut queues.outbox, outbox);
        queues.outbox_bytes = 0;
        std::mem::take(&mut queues.space_wanted)
    }

    /// For the task, before it sleeps: registers its waker and, unless work arrived
    /// meanwhile, marks it inactive so that the next push wakes it. Returns false if there
    /// is work to do now.
    ///
    /// `idle_stream` is the WebSocket's TCP stream if nothing is left to write on it:
    /// senders may then write to it themselves until the task's next round.
    pub(crate) fn park(
        &self,
        waker: &std::task::Waker,
        can_take_outbox: bool,
        idle_stream: Option<&Arc<SharedWriter>>,
    ) -> bool {
        self.waker.register(waker);
        let mut queues = self.lock();
        let work = !queues.requests.is_empty()
            || queues.close_requested != CloseRequest::None
            || queues.stream_rest.is_some()
            || (can_take_outbox && !queues.outbox.is_empty());
        if !work {
            queues.driver_active = false;
            match idle_stream {
                Some(stream) if can_take_outbox => {
                    if queues.stream.is_none() {
                        queues.stream = Some(stream.clone());
                    }
                    queues.stream_idle = true;
                }
                _ => queues.stream_idle = false,
            }
        }
        !work
    }

    /// For the task: the WebSocket is being closed or replaced; senders no longer write
    /// to its stream, and the task holds the only reference to it again.
    pub(crate) fn forget_stream(&self) {
        let mut queues = self.lock();
        queues.stream = None;
        queues.stream_idle = false;
    }

    /// For the task, when the session ends: refuses further sends and returns the requests
    /// still queued so that their callers get an answer.
    pub(crate) fn mark_closed(&self) -> Queue<SessionRequest> {
        let mut queues = self.lock();
        queues.closed = true;
        queues.outbox = Queue::new();
        queues.outbox_bytes = 0;
        queues.stream = None;
        queues.stream_idle = false;
        queues.stream_rest = None;
        let requests = std::mem::take(&mut queues.requests);
        drop(queues);
        self.space.notify_waiters();
        requests
    }

    pub(crate) fn set_transport(&self, transport: TransportKind) {
        self.transport.store(transport as u8, Ordering::Release);
    }

    /// For the task: whether a message queued now would be written at once.
    pub(crate) fn set_writable(&self, writable: bool) {
        self.writable.store(writable, Ordering::Release);
    }
}

/// Several messages could not be queued together; none was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// The outgoing queue holds `max_buffered_bytes` already.
    Full,
    /// The session is closed.
    Closed,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Full => f.write_str("the session's outgoing buffer is full"),
            BatchError::Closed => f.write_str("the session is closed"),
        }
    }
}

impl std::error::Error for BatchError {}

/// A handle on one Engine.IO session: the server side of a client connection.
///
/// Cheap to clone. Sending queues the message for the session's task, which writes it on
/// whichever transport the session uses at that moment.
#[derive(Clone)]
pub struct EngineSocket {
    shared: Arc<Shared>,
}

impl fmt::Debug for EngineSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineSocket")
            .field("sid", &self.shared.sid)
            .field("transport", &self.transport())
            .finish_non_exhaustive()
    }
}

impl EngineSocket {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        EngineSocket { shared }
    }

    /// The session id.
    pub fn sid(&self) -> Sid {
        self.shared.sid
    }

    /// The request that opened the session: method, URI with its query, headers, and
    /// extensions such as [`RemoteAddr`](crate::RemoteAddr).
    ///
    /// The session keeps the request packed in one buffer and builds this the first time
    /// it is asked for; from then on the session holds both (about 1 KB more for a
    /// browser's request).
    pub fn request(&self) -> &Parts {
        self.shared.request.parts()
    }

    /// The client's address, if the server put a [`RemoteAddr`](crate::RemoteAddr) extension on the request.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.shared.request.remote()
    }

    /// The transport the session runs on now.
    pub fn transport(&self) -> TransportKind {
        if self.shared.transport.load(Ordering::Acquire) == TransportKind::WebSocket as u8 {
            TransportKind::WebSocket
        } else {
            TransportKind::Polling
        }
    }

    /// Queues a message without waiting. Fails with `Full` when `max_buffered_bytes` are
    /// already queued (an empty queue takes one message of any size).
    ///
    /// A WebSocket session with nothing queued and nothing being written gets the message
    /// written at once, by the caller: one non-blocking `send`, no wake of the session's
    /// task. A caller holding a lock that others wait on uses
    /// [`try_enqueue`](Self::try_enqueue) instead.
    pub fn try_send(&self, message: impl Into<Message>) -> Result<(), TrySendError> {
        self.shared.push_message(message.into(), true)
    }

    /// Queues several messages together (a packet and its binary attachments): all or
    /// none, with no other sender's message between them. Written at once to an idle
    /// WebSocket session, as with [`try_send`](Self::try_send).
    pub fn try_send_all(&self, messages: &[Message]) -> Result<(), BatchError> {
        self.shared.push_messages(messages, true)
    }

    /// Like [`try_send`](Self::try_send), but the message is always left to the session's
    /// task, never written by the caller: for a caller holding a lock that others wait
    /// on, as a broadcast that must stay in order with connection state recovery does (a
    /// write is a system call; ten thousand of them kept reconnecting clients waiting
    /// for seconds).
    pub fn try_enqueue(&self, message: impl Into<Message>) -> Result<(), TrySendError> {
        self.shared.push_message(message.into(), false)
    }

    /// Like [`try_send_all`](Self::try_send_all), left to the session's task as
    /// [`try_enqueue`](Self::try_enqueue) is.
    pub fn try_enqueue_all(&self, messages: &[Message]) -> Result<(), BatchError> {
        self.shared.push_messages(messages, false)
    }

    /// Whether a message sent now would be written at once rather than wait: nothing is
    /// queued and the transport is ready (a WebSocket not busy writing, or a long-polling
    /// GET waiting). Socket.IO's volatile messages are dropped when this is false.
    pub fn is_writable(&self) -> bool {
        self.shared.writable.load(Ordering::Acquire) && self.shared.lock().outbox.is_empty()
    }

    /// Queues a message, waiting for room if the queue is full.
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        let mut message = message.into();
        loop {
            let notified = self.shared.space.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the attempt, so a wake-up between the two is not lost.
            notified.as_mut().enable();
            match self.shared.push_message(message, true) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(returned)) => return Err(SendError(returned)),
                Err(TrySendError::Full(returned)) => {
                    message = returned;
                    notified.await;
                }
            }
        }
    }

    /// Queues several messages together (see [`try_send_all`](Self::try_send_all)),
    /// waiting for room if the queue is full. Fails only if the session is closed.
    pub async fn send_all(&self, messages: &[Message]) -> Result<(), BatchError> {
        loop {
            let notified = self.shared.space.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            match self.shared.push_messages(messages, true) {
                Err(BatchError::Full) => notified.await,
                done => return done,
            }
        }
    }

    /// Bytes of messages queued and not yet handed to the transport.
    pub fn buffered_bytes(&self) -> usize {
        self.shared.lock().outbox_bytes
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Closes the session: queued messages are sent first, then the transport is closed.
    /// The handler's `on_close` receives `forced close`.
    pub fn close(&self) {
        self.shared.request_close(CloseRequest::Graceful);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    use tokio::net::TcpStream;
    use tokio::net::tcp::OwnedReadHalf;

    /// The server's halves of a connection, the writing one shared, and the client.
    async fn connected() -> (Arc<SharedWriter>, OwnedReadHalf, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (server, client) = tokio::join!(listener.accept(), client);
        let (read, write) = server.unwrap().0.into_split();
        (Arc::new(SharedWriter::new(write)), read, client.unwrap())
    }

    fn shared() -> Shared {
        let request = http::Request::new(()).into_parts().0;
        Shared::new(
            Sid::from_random([7; 15]),
            request,
            TransportKind::WebSocket,
            1 << 20,
        )
    }

    fn waker() -> std::task::Waker {
        std::task::Waker::noop().clone()
    }

    #[tokio::test]
    async fn a_sender_writes_only_while_the_task_is_parked_with_an_idle_stream() {
        let (stream, _read, mut peer) = connected().await;
        let shared = shared();
        let (mut requests, mut outbox) = (Queue::new(), Queue::new());

        // Not parked yet: queued.
        shared.push_message(Message::text("a"), true).unwrap();
        assert_eq!(shared.lock().outbox.len(), 1);
        shared.take(&mut requests, &mut outbox, true);
        assert_eq!(outbox.len(), 1);

        // Parked with an idle stream: written at once, nothing queued.
        assert!(shared.park(&waker(), true, Some(&stream)));
        shared.push_message(Message::text("bc"), true).unwrap();
        assert!(shared.lock().outbox.is_empty());
        let mut frame = [0u8; 5];
        peer.read_exact(&mut frame).await.unwrap();
        assert_eq!(frame, [0x81, 3, b'4', b'b', b'c']);

        // Parked with an idle stream, but the caller asks to leave it to the task: queued.
        assert!(shared.park(&waker(), true, Some(&stream)));
        shared.push_message(Message::text("q"), false).unwrap();
        assert_eq!(shared.lock().outbox.len(), 1);
        // And what follows waits behind it.
        shared.push_message(Message::text("r"), true).unwrap();
        assert_eq!(shared.lock().outbox.len(), 2);
        shared.take(&mut requests, &mut Queue::new(), true);

        // The task's round began: queued again, even though the stream is idle.
        shared.take(&mut requests, &mut Queue::new(), true);
        shared.push_message(Message::text("d"), true).unwrap();
        assert_eq!(shared.lock().outbox.len(), 1);

        // Parked, but its stream has bytes of its own to write: queued.
        let mut outbox = Queue::new();
        shared.take(&mut requests, &mut outbox, true);
        assert!(shared.park(&waker(), true, None));
        shared.push_message(Message::text("e"), true).unwrap();
        assert_eq!(shared.lock().outbox.len(), 1);

        // Parked, but not allowed to take the outbox (a flush is pending): queued.
        shared.take(&mut requests, &mut Queue::new(), true);
        assert!(shared.park(&waker(), false, Some(&stream)));
        shared.push_message(Message::text("f"), true).unwrap();
        assert_eq!(shared.lock().outbox.len(), 1);

        // Closed: the stream is let go.
        shared.mark_closed();
        assert!(shared.lock().stream.is_none());
        assert_eq!(Arc::strong_count(&stream), 1);
    }

    #[tokio::test]
    async fn a_write_cut_by_a_full_socket_leaves_its_rest_to_the_task() {
        let (stream, _read, mut peer) = connected().await;
        let shared = shared();
        let (mut requests, mut outbox) = (Queue::new(), Queue::new());
        let big = Message::binary(vec![1u8; 60_000]);
        let mut written = 0;
        let rest = loop {
            assert!(shared.park(&waker(), true, Some(&stream)));
            shared.push_message(big.clone(), true).unwrap();
            let (_, rest) = shared.take(&mut requests, &mut outbox, true);
            if let Some(rest) = rest {
                break rest;
            }
            // Written whole, or not at all if the buffer filled at a frame's boundary (then
            // queued): the peer reads a little, and the next write is cut.
            if !outbox.is_empty() {
                outbox = Queue::new();
                let mut some = [0u8; 4096];
                peer.read_exact(&mut some).await.unwrap();
            }
            written += 1;
            assert!(written < 10_000, "the socket's buffer never filled");
        };
        // The rest is the end of one frame: the task writes it before anything else.
        assert!(!rest.is_empty() && rest.len() < 60_004);
        assert!(outbox.is_empty());
    }
}
