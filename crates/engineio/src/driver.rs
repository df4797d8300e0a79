//! The task that owns one session: it feeds the protocol core what the transports and the
//! application bring, writes what the core asks for, hands events to the application's
//! handler, and re-arms one timer for the core's next deadline.
//!
//! It is a hand-written future (no `select!` re-creating futures on every wake-up): each
//! poll drains the queues shared with the HTTP side, reads the WebSockets until they would
//! block, then flushes, so a burst of messages costs one `write`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use engineio_proto::queue::Queue;
use engineio_proto::{Event, Message, PollError, Session, Timestamp, Transmit, TransportKind};
use tokio::sync::oneshot;
use tokio::time::Sleep;

use crate::clock::Clock;
use crate::handler::SocketHandler;
use crate::registry::Registry;
use crate::socket::{CloseRequest, PollReply, PostError, SessionRequest, Shared};
use crate::ws::{self, Incoming, WsStream};

/// Iterations of the poll loop before the task yields to others.
const MAX_ITERATIONS: usize = 32;

/// How long a long-polling session closed by its client still answers one GET (see
/// `linger`).
const CLOSE_LINGER: Duration = Duration::from_millis(200);

pub(crate) struct SessionDriver {
    clock: Clock,
    registry: Arc<Registry>,
    shared: Arc<Shared>,
    core: Session,
    handler: Box<dyn SocketHandler>,
    /// The session's WebSocket, once it runs on one.
    ws: Option<Box<WsStream>>,
    /// Frames were queued on `ws` and not yet flushed.
    ws_dirty: bool,
    /// A WebSocket probing for an upgrade.
    probe: Option<Box<WsStream>>,
    probe_dirty: bool,
    /// The long-polling GET waiting for data.
    pending_poll: Option<oneshot::Sender<PollReply>>,
    timer: Pin<Box<Sleep>>,
    timer_deadline: Option<Timestamp>,
    /// `timer` was polled since it was last reset: it holds this task's waker, and polling
    /// it again only to learn that it has not fired cost 130 instructions per wake-up
    /// (callgrind, `bench/run.sh echo`).
    timer_armed: bool,
    /// Messages went to the handler during this round.
    delivered: bool,
    /// Why the session closed, once it has.
    close_reason: Option<engineio_proto::CloseReason>,
    /// A GET was answered as the session closed.
    answered_poll_at_close: bool,
    /// Until when a session closed by its client waits for a GET that raced the close.
    linger: Option<Timestamp>,
    /// The session's place in the registry's count was given back (as it closed).
    released: bool,
    finished: bool,
}

impl SessionDriver {
    pub(crate) fn new(
        clock: Clock,
        registry: Arc<Registry>,
        shared: Arc<Shared>,
        core: Session,
        handler: Box<dyn SocketHandler>,
        ws: Option<WsStream>,
    ) -> Self {
        let deadline = core.poll_timeout();
        let timer = Box::pin(tokio::time::sleep_until(
            clock.instant(deadline.unwrap_or_default()),
        ));
        SessionDriver {
            clock,
            registry,
            shared,
            core,
            handler,
            ws: ws.map(Box::new),
            ws_dirty: false,
            probe: None,
            probe_dirty: false,
            pending_poll: None,
            timer,
            timer_deadline: deadline,
            timer_armed: false,
            delivered: false,
            close_reason: None,
            answered_poll_at_close: false,
            linger: None,
            released: false,
            finished: false,
        }
    }

    /// Whether messages queued by the application can be handed to the transport now;
    /// otherwise they wait in the shared queue, where they count against its byte limit.
    fn can_take_outbox(&self) -> bool {
        match self.core.transport() {
            TransportKind::WebSocket => !self.ws_dirty && self.core.is_open(),
            TransportKind::Polling => self.core.is_writable(),
        }
    }

    /// One round of work. Returns true when the session is over.
    fn step(&mut self, cx: &mut Context<'_>) -> bool {
        let now = self.clock.now();
        if let Some(deadline) = self.linger {
            return self.step_lingering(now, deadline);
        }
        self.delivered = false;
        let can_take_outbox = self.can_take_outbox();
        // Taken by swapping in empty queues, which hold one item without allocating: the
        // session keeps no queue of its own between rounds.
        let (mut requests, mut outbox) = (Queue::new(), Queue::new());
        let (close_requested, rest) = self
            .shared
            .take(&mut requests, &mut outbox, can_take_outbox);
        if let Some(rest) = rest
            && let Some(ws) = &mut self.ws
        {
            ws.send_raw(rest);
            self.ws_dirty = true;
        }
        let took_outbox = !outbox.is_empty();
        self.send_all(outbox);
        match close_requested {
            CloseRequest::None => {}
            CloseRequest::Graceful => self.core.close(now),
            CloseRequest::Within(grace) => self.core.close_within(now, grace),
        }
        for request in requests.drain() {
            self.handle_request(now, request);
        }

        // The probe first: if it completes the upgrade it becomes the main WebSocket, whose
        // frames already buffered (a message right after `5`) must be read now.
        self.read_probe(cx, now);
        self.read_ws(cx, now);

        if let Some(poll) = &mut self.pending_poll
            && poll.poll_closed(cx).is_ready()
        {
            self.pending_poll = None;
            self.core.handle_poll_aborted(now);
        }
        if self
            .core
            .poll_timeout()
            .is_some_and(|deadline| deadline <= now)
        {
            self.core.handle_timeout(now);
        }
        self.dispatch();
        // What the handlers queued as this round's messages were dispatched (an ack, most
        // often: handlers that do not wait run inline) goes out with this round's flush
        // rather than in a round of its own; unless this round took messages already, as
        // the transport gets at most one outbox's worth (`max_buffered_bytes`) per flush.
        if self.delivered && !took_outbox && self.can_take_outbox() {
            let mut outbox = Queue::new();
            self.shared.take_outbox(&mut outbox);
            self.send_all(outbox);
        }
        self.transmit();
        // Transmitting can end the session (a close delivered by the last GET).
        self.dispatch();
        self.flush(cx, now);

        if self.core.is_closed() {
            if self.should_linger() {
                self.linger = Some(now + CLOSE_LINGER);
                return false;
            }
            self.finish();
            return true;
        }
        false
    }

    fn send_all(&mut self, mut outbox: Queue<Message>) {
        for message in outbox.drain() {
            // Refused only once the session is closing; the message is then dropped.
            let _ = self.core.send(message);
        }
    }

    /// A client that closes over long-polling may have a GET on its way that crossed the
    /// close (it sends the `close` POST while it polls). Rather than answer that GET
    /// "unknown session", the session answers it with a `noop`, as it would have had the
    /// GET come first, then ends. Only one GET, and only briefly.
    fn should_linger(&self) -> bool {
        self.close_reason == Some(engineio_proto::CloseReason::TransportClose)
            && self.core.transport() == TransportKind::Polling
            && !self.answered_poll_at_close
    }

    fn step_lingering(&mut self, now: Timestamp, deadline: Timestamp) -> bool {
        let (mut requests, mut outbox) = (Queue::new(), Queue::new());
        let _ = self.shared.take(&mut requests, &mut outbox, true);
        drop(outbox);
        let mut answered = false;
        for request in requests.drain() {
            match request {
                SessionRequest::Poll(reply) if !answered => {
                    answered = true;
                    let _ = reply.send(PollReply::Payload(bytes::Bytes::from_static(b"6")));
                }
                other => refuse(other),
            }
        }
        if answered || now >= deadline {
            self.finish();
            return true;
        }
        false
    }

    fn handle_request(&mut self, now: Timestamp, request: SessionRequest) {
        match request {
            SessionRequest::Poll(reply) => match self.core.handle_poll(now) {
                Ok(()) => self.pending_poll = Some(reply),
                Err(error) => {
                    let _ = reply.send(PollReply::Refused(error));
                }
            },
            SessionRequest::Post { body, reply } => {
                let outcome = self.handle_post(now, body);
                let _ = reply.send(outcome);
            }
            SessionRequest::Probe(probe) => match self.core.handle_probe_opened(now) {
                Ok(()) => {
                    self.probe = Some(probe);
                    self.probe_dirty = false;
                }
                Err(error) => {
                    tracing::debug!(session = self.shared.log_id, %error, "upgrade refused");
                    ws::close_in_background(*probe);
                }
            },
            SessionRequest::TransportError => self.core.handle_transport_error(now),
        }
    }

    /// Hands the packets of a POST body to the core one at a time, dispatching events as
    /// they come, so a body of many tiny packets needs no more memory than the body.
    fn handle_post(&mut self, now: Timestamp, body: bytes::Bytes) -> Result<(), PostError> {
        if self.core.is_closed() {
            return Err(PostError::Closed);
        }
        if self.core.transport() != TransportKind::Polling {
            return Err(PostError::TransportMismatch);
        }
        for packet in engineio_proto::decode_payload(body) {
            match packet {
                Ok(packet) => self.core.handle_packet(now, packet),
                Err(error) => {
                    tracing::debug!(session = self.shared.log_id, %error, "invalid payload");
                    self.core.handle_parse_error(now);
                    self.dispatch();
                    return Err(PostError::Parse);
                }
            }
            self.dispatch();
        }
        Ok(())
    }

    fn read_ws(&mut self, cx: &mut Context<'_>, now: Timestamp) {
        while !self.core.is_closed() {
            let Some(ws) = &mut self.ws else { return };
            match ws.poll_next(cx) {
                Poll::Pending => return,
                Poll::Ready(Some(Ok(message))) => match message {
                    Incoming::Packet(Ok(packet)) => self.core.handle_packet(now, packet),
                    Incoming::Packet(Err(error)) => {
                        tracing::debug!(session = self.shared.log_id, %error, "invalid packet");
                        self.core.handle_parse_error(now);
                    }
                    Incoming::Close => self.core.handle_transport_closed(now),
                    // The WebSocket layer queued a pong: flush it.
                    Incoming::Control => self.ws_dirty = true,
                },
                Poll::Ready(Some(Err(error))) => {
                    tracing::debug!(session = self.shared.log_id, %error, "websocket error");
                    self.core.handle_transport_error(now);
                }
                Poll::Ready(None) => self.core.handle_transport_closed(now),
            }
            self.dispatch();
        }
    }

    fn read_probe(&mut self, cx: &mut Context<'_>, now: Timestamp) {
        loop {
            let Some(probe) = &mut self.probe else { return };
            let packet = match probe.poll_next(cx) {
                Poll::Pending => return,
                Poll::Ready(Some(Ok(message))) => match message {
                    Incoming::Packet(Ok(packet)) => Some(packet),
                    Incoming::Control => {
                        self.probe_dirty = true;
                        continue;
                    }
                    Incoming::Packet(Err(_)) | Incoming::Close => None,
                },
                Poll::Ready(Some(Err(_)) | None) => None,
            };
            match packet {
                Some(packet) => self.core.handle_probe_packet(now, packet),
                None => {
                    self.core.handle_probe_closed(now);
                    if let Some(probe) = self.probe.take() {
                        ws::close_in_background(*probe);
                    }
                }
            }
            self.dispatch();
            self.transmit();
        }
    }

    fn dispatch(&mut self) {
        while let Some(event) = self.core.poll_event() {
            match event {
                Event::Message(message) => {
                    self.delivered = true;
                    self.handler.on_message(message);
                }
                Event::Upgraded => self.handler.on_upgrade(),
                Event::Closed(reason) => {
                    tracing::debug!(session = self.shared.log_id, %reason, "session closed");
                    self.close_reason = Some(reason);
                    // As in the Node server, the session has left the count when its
                    // `close` handler runs, even if it lingers for a crossing GET.
                    self.release();
                    self.handler.on_close(reason);
                }
            }
        }
    }

    fn transmit(&mut self) {
        while let Some(transmit) = self.core.poll_transmit() {
            match transmit {
                Transmit::WebSocket(packet) => {
                    if let Some(ws) = &mut self.ws {
                        // The WebSocket queues frames without bound; the queue is bounded
                        // by taking the application's messages only when the previous
                        // batch is flushed.
                        self.ws_dirty |= ws.send(packet);
                    }
                }
                Transmit::Probe(packet) => {
                    if let Some(probe) = &mut self.probe {
                        self.probe_dirty |= probe.send(packet);
                    }
                }
                Transmit::PollResponse(payload) => {
                    if let Some(poll) = self.pending_poll.take() {
                        self.answered_poll_at_close |= self.core.is_closed();
                        let _ = poll.send(PollReply::Payload(payload));
                    }
                }
                Transmit::PromoteProbe => {
                    self.ws = self.probe.take();
                    self.ws_dirty = self.probe_dirty;
                    self.shared.set_transport(TransportKind::WebSocket);
                }
                Transmit::CloseProbe => {
                    if let Some(probe) = self.probe.take() {
                        ws::close_in_background(*probe);
                    }
                }
                Transmit::CloseWebSocket => {
                    self.shared.forget_stream();
                    if let Some(ws) = self.ws.take() {
                        ws::close_in_background(*ws);
                    }
                }
            }
        }
    }

    fn flush(&mut self, cx: &mut Context<'_>, now: Timestamp) {
        if self.ws_dirty
            && let Some(ws) = &mut self.ws
        {
            match ws.poll_flush(cx) {
                Poll::Ready(Ok(())) => self.ws_dirty = false,
                Poll::Ready(Err(error)) => {
                    tracing::debug!(session = self.shared.log_id, %error, "websocket write failed");
                    self.ws_dirty = false;
                    self.core.handle_transport_error(now);
                    self.dispatch();
                    self.transmit();
                }
                Poll::Pending => {}
            }
        }
        if self.probe_dirty
            && let Some(probe) = &mut self.probe
        {
            match probe.poll_flush(cx) {
                Poll::Ready(Ok(())) => self.probe_dirty = false,
                Poll::Ready(Err(_)) => {
                    self.probe_dirty = false;
                    self.probe = None;
                    self.core.handle_probe_closed(now);
                }
                Poll::Pending => {}
            }
        }
    }

    /// The session is over: refuse what is still queued, let the WebSockets close in the
    /// background, and leave the registry.
    fn finish(&mut self) {
        self.finished = true;
        self.dispatch();
        for request in self.shared.mark_closed() {
            refuse(request);
        }
        if let Some(poll) = self.pending_poll.take() {
            let _ = poll.send(PollReply::Refused(PollError::Closed));
        }
        if let Some(ws) = self.ws.take() {
            ws::close_in_background(*ws);
        }
        if let Some(probe) = self.probe.take() {
            ws::close_in_background(*probe);
        }
        self.release();
        self.registry.remove(&self.shared.sid);
    }

    /// Gives the session's place in the registry's count back, once.
    fn release(&mut self) {
        if !self.released {
            self.released = true;
            self.registry.release();
        }
    }

    /// Points the timer at the core's next deadline; true if that deadline has passed.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.linger.or_else(|| self.core.poll_timeout()) else {
            return false;
        };
        if self.timer_deadline != Some(deadline) {
            self.timer.as_mut().reset(self.clock.instant(deadline));
            self.timer_deadline = Some(deadline);
            self.timer_armed = false;
        }
        if self.timer_armed {
            // Only this task polls the timer, always with the same waker.
            return self.timer.is_elapsed();
        }
        let fired = self.timer.as_mut().poll(cx).is_ready();
        self.timer_armed = !fired;
        fired
    }
}

fn refuse(request: SessionRequest) {
    match request {
        SessionRequest::Poll(reply) => {
            let _ = reply.send(PollReply::Refused(PollError::Closed));
        }
        SessionRequest::Post { reply, .. } => {
            let _ = reply.send(Err(PostError::Closed));
        }
        SessionRequest::Probe(probe) => ws::close_in_background(*probe),
        SessionRequest::TransportError => {}
    }
}

impl Future for SessionDriver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..MAX_ITERATIONS {
            if this.step(cx) {
                return Poll::Ready(());
            }
            let can_take_outbox = this.can_take_outbox();
            this.shared.set_writable(can_take_outbox);
            let idle_stream = match this.core.transport() {
                TransportKind::WebSocket => this.ws.as_ref().and_then(|ws| ws.idle_stream()),
                TransportKind::Polling => None,
            };
            if this.shared.park(cx.waker(), can_take_outbox, idle_stream) && !this.poll_timer(cx) {
                return Poll::Pending;
            }
        }
        // Still busy: let other tasks run, then come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Drop for SessionDriver {
    fn drop(&mut self) {
        if !self.finished {
            // The task was cancelled (runtime shutdown) or a handler panicked.
            for request in self.shared.mark_closed() {
                refuse(request);
            }
            self.release();
            self.registry.remove(&self.shared.sid);
        }
    }
}
