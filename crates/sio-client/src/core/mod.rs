//! The client without I/O: a manager (one Engine.IO session at a time, reconnection with
//! backoff, the connect timeout) and its sockets (one per namespace: CONNECT and auth,
//! acknowledgements with their timeouts, the bounded offline buffer, the retry queue,
//! connection state recovery), driven by explicit time.
//!
//! The driver feeds it what the transports report (`handle_*`, tagged with an [`IoId`]),
//! what the application asks (`emit`, `socket_connect`, …), and the time; it makes the
//! requests [`poll_transmit`](ManagerCore::poll_transmit) gives and hands
//! [`poll_output`](ManagerCore::poll_output) to the application's listeners. `A` is
//! whatever wakes an acknowledgement's waiter; the core only keeps and returns it.
//!
//! The rules are the official `socket.io-client` 4.8's (`manager.ts`, `socket.ts`), with
//! one change: the offline buffer is bounded.

mod backoff;
mod emit;
mod namespace;
pub(crate) mod socket;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use engineio_proto::client::{
    ClientEvent, ClientOptions, ClientSession, ClientTransmit, TransportFailure, TransportId,
};
use engineio_proto::{CloseReason, Endpoint, Packet, Timestamp, TransportKind};
use socketio_proto::{Args, Decoder, DecoderLimits, EncodeError, Encoded, Parser};

use crate::error::AckError;
use crate::event::{ConnectError, DisconnectReason, ManagerEvent};
use crate::options::ManagerOptions;
use backoff::Backoff;
use socket::SocketCore;

/// A socket of a manager.
pub(crate) type SocketKey = usize;

/// Names a transport of one of the manager's Engine.IO sessions: reports about an earlier
/// session's transports are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct IoId {
    pub(crate) session: u64,
    pub(crate) transport: TransportId,
}

/// A request for the driver.
#[derive(Debug)]
pub(crate) struct Transmit {
    pub(crate) session: u64,
    pub(crate) inner: ClientTransmit,
}

/// What the application learns.
#[derive(Debug)]
pub(crate) enum Output<A> {
    Manager(ManagerEvent),
    /// The transport after an open or an upgrade.
    Transport(TransportKind),
    Socket(SocketKey, SocketOutput<A>),
}

#[derive(Debug)]
pub(crate) enum SocketOutput<A> {
    /// Ask the auth callback, then call [`ManagerCore::send_connect`] with this session.
    NeedAuth {
        session: u64,
    },
    Connect,
    ConnectError(ConnectError),
    Disconnect(DisconnectReason),
    Event {
        name: String,
        args: Args,
        /// The ack id and the session it must be answered in.
        ack: Option<(u64, u64)>,
    },
    /// An event this socket sent (for catch-all outgoing listeners).
    Outgoing {
        name: String,
        args: Args,
    },
    Ack {
        waiter: A,
        result: Result<Args, AckError>,
    },
}

/// How an emit is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct EmitFlags {
    pub(crate) volatile: bool,
    pub(crate) timeout: Option<Duration>,
}

/// What became of an accepted emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emitted {
    /// Handed to the transport.
    Sent,
    /// Kept until the socket connects (or, with `retries`, queued behind others).
    Buffered,
    /// Volatile, and the transport could not take it at once: dropped.
    Dropped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadyState {
    Closed,
    Opening,
    Open,
}

/// Encodes an event for a namespace with an optional ack id.
pub(crate) type Encode<'a> = &'a dyn Fn(Parser, &str, Option<u64>) -> Result<Encoded, EncodeError>;

#[derive(Debug)]
pub(crate) struct ManagerCore<A> {
    engine_options: ClientOptions,
    endpoint: Endpoint,
    parser: Parser,
    reconnection: bool,
    reconnection_attempts: u32,
    timeout: Option<Duration>,
    state: ReadyState,
    engine: Option<ClientSession>,
    session: u64,
    /// Earlier sessions still writing what they were given before they close (a
    /// DISCONNECT, say), by session number: they go on until they are closed.
    closing: Vec<(u64, ClientSession)>,
    decoder: Decoder,
    backoff: Backoff,
    reconnecting: bool,
    skip_reconnect: bool,
    open_deadline: Option<Timestamp>,
    reconnect_at: Option<Timestamp>,
    /// Whether the open under way is a reconnection attempt.
    reconnect_attempt: bool,
    prior_websocket_success: bool,
    sockets: Vec<SocketCore<A>>,
    ack_deadlines: BinaryHeap<Reverse<(Timestamp, SocketKey, u64)>>,
    rng: u64,
    transmits: VecDeque<Transmit>,
    outputs: VecDeque<Output<A>>,
}

impl<A> ManagerCore<A> {
    /// A closed manager. `seed` seeds its randomness (backoff jitter, the `t` parameter).
    pub(crate) fn new(
        options: &ManagerOptions,
        endpoint: Endpoint,
        seed: u64,
        prior_websocket_success: bool,
    ) -> Self {
        let endpoint = Endpoint {
            query: options.query.clone(),
            ..endpoint
        }
        .with_path(&options.path, options.add_trailing_slash);
        ManagerCore {
            engine_options: ClientOptions {
                transports: options.transports.clone(),
                upgrade: options.upgrade,
                remember_upgrade: options.remember_upgrade,
                try_all_transports: options.try_all_transports,
                timestamp_requests: options.timestamp_requests,
            },
            endpoint,
            parser: options.parser,
            reconnection: options.reconnection,
            reconnection_attempts: options.reconnection_attempts,
            timeout: options.timeout,
            state: ReadyState::Closed,
            engine: None,
            session: 0,
            closing: Vec::new(),
            decoder: options.parser.decoder(client_limits()),
            backoff: Backoff::new(
                options.reconnection_delay,
                options.reconnection_delay_max,
                options.randomization_factor,
            ),
            reconnecting: false,
            skip_reconnect: false,
            open_deadline: None,
            reconnect_at: None,
            reconnect_attempt: false,
            prior_websocket_success,
            sockets: Vec::new(),
            ack_deadlines: BinaryHeap::new(),
            rng: seed | 1,
            transmits: VecDeque::new(),
            outputs: VecDeque::new(),
        }
    }

    fn random(&mut self) -> f64 {
        // xorshift64*: jitter needs no more.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let n = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (n >> 11) as f64 / (1u64 << 53) as f64
    }

    // ----- queries -----

    pub(crate) fn parser(&self) -> Parser {
        self.parser
    }

    pub(crate) fn socket(&self, key: SocketKey) -> &SocketCore<A> {
        &self.sockets[key]
    }

    pub(crate) fn is_open(&self) -> bool {
        self.state == ReadyState::Open
    }

    pub(crate) fn is_reconnecting(&self) -> bool {
        self.reconnecting
    }

    pub(crate) fn transport(&self) -> Option<TransportKind> {
        self.engine.as_ref().map(ClientSession::transport)
    }

    pub(crate) fn prior_websocket_success(&self) -> bool {
        self.prior_websocket_success
    }

    /// Whether nothing more can happen without the application: closed, no reconnection
    /// pending.
    pub(crate) fn is_idle(&self) -> bool {
        self.state == ReadyState::Closed && self.reconnect_at.is_none()
    }

    // ----- driver side -----

    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub(crate) fn poll_output(&mut self) -> Option<Output<A>> {
        self.outputs.pop_front()
    }

    pub(crate) fn poll_timeout(&self) -> Option<Timestamp> {
        let earliest = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        };
        let mut engine = self.engine.as_ref().and_then(ClientSession::poll_timeout);
        for (_, closing) in &self.closing {
            engine = earliest(engine, closing.poll_timeout());
        }
        let ack = self.ack_deadlines.peek().map(|Reverse((at, _, _))| *at);
        earliest(
            earliest(engine, ack),
            earliest(self.open_deadline, self.reconnect_at),
        )
    }

    pub(crate) fn handle_timeout(&mut self, now: Timestamp) {
        self.engine_tick(now);
        if self.open_deadline.is_some_and(|at| now >= at) {
            self.open_deadline = None;
            self.on_open_error(
                now,
                ConnectError {
                    message: "timeout".to_owned(),
                    data: None,
                    description: Some("the connection did not open in time".to_owned()),
                },
            );
        }
        if self.reconnect_at.is_some_and(|at| now >= at) {
            self.reconnect_at = None;
            if !self.skip_reconnect {
                let attempt = self.backoff.attempts();
                self.outputs
                    .push_back(Output::Manager(ManagerEvent::ReconnectAttempt(attempt)));
                self.open_engine(now, true);
            }
        }
        while let Some(&Reverse((at, key, id))) = self.ack_deadlines.peek() {
            if at > now {
                break;
            }
            self.ack_deadlines.pop();
            let socket = &mut self.sockets[key];
            if socket
                .acks
                .get(&id)
                .is_some_and(|ack| ack.deadline == Some(at))
            {
                socket.unbuffer(id);
                self.resolve_ack(now, key, id, Err(AckError::Timeout));
            }
        }
    }

    /// Runs `f` on the session `io` names, the current one or one still closing, and takes
    /// what it produced.
    fn with_engine(&mut self, now: Timestamp, io: IoId, f: impl FnOnce(&mut ClientSession)) {
        if io.session == self.session {
            if let Some(engine) = &mut self.engine {
                f(engine);
                self.pump(now);
            }
            return;
        }
        if let Some(i) = self
            .closing
            .iter()
            .position(|(session, _)| *session == io.session)
        {
            f(&mut self.closing[i].1);
            self.pump_closing(i);
        }
    }

    /// Takes the requests of closing session `i` (its events are for nobody), and lets it
    /// go once it is closed.
    fn pump_closing(&mut self, i: usize) {
        let (session, engine) = &mut self.closing[i];
        while let Some(inner) = engine.poll_transmit() {
            self.transmits.push_back(Transmit {
                session: *session,
                inner,
            });
        }
        while engine.poll_event().is_some() {}
        if engine.is_closed() {
            self.closing.swap_remove(i);
        }
    }

    pub(crate) fn handle_poll_response(&mut self, now: Timestamp, io: IoId, body: Bytes) {
        self.with_engine(now, io, |e| e.handle_poll_response(now, io.transport, body));
    }

    pub(crate) fn handle_opened(&mut self, now: Timestamp, io: IoId) {
        self.with_engine(now, io, |e| e.handle_opened(now, io.transport));
    }

    pub(crate) fn handle_packet(&mut self, now: Timestamp, io: IoId, packet: Packet) {
        self.with_engine(now, io, |e| e.handle_packet(now, io.transport, packet));
    }

    pub(crate) fn handle_decode_error(&mut self, now: Timestamp, io: IoId) {
        self.with_engine(now, io, |e| e.handle_decode_error(now, io.transport));
    }

    pub(crate) fn handle_drain(&mut self, now: Timestamp, io: IoId) {
        self.with_engine(now, io, |e| e.handle_drain(now, io.transport));
    }

    pub(crate) fn handle_error(
        &mut self,
        now: Timestamp,
        io: IoId,
        failure: TransportFailure,
        description: String,
    ) {
        self.with_engine(now, io, |e| {
            e.handle_error(now, io.transport, failure, description)
        });
    }

    pub(crate) fn handle_closed(&mut self, now: Timestamp, io: IoId) {
        self.with_engine(now, io, |e| e.handle_closed(now, io.transport));
    }

    /// The oldest session whose transports may still be in use: the driver lets go of
    /// older ones' (but for POSTs under way).
    pub(crate) fn oldest_session(&self) -> u64 {
        self.closing
            .iter()
            .map(|(session, _)| *session)
            .fold(self.session, u64::min)
    }

    /// The current session's number (auth answers and acks of an earlier one are stale).
    pub(crate) fn session(&self) -> u64 {
        self.session
    }

    /// Lets a late timer close an overdue session before anyone decides it is connected
    /// (the official client's `_hasPingExpired`).
    fn engine_tick(&mut self, now: Timestamp) {
        if let Some(engine) = &mut self.engine {
            engine.handle_timeout(now);
            self.pump(now);
        }
        for i in (0..self.closing.len()).rev() {
            self.closing[i].1.handle_timeout(now);
            self.pump_closing(i);
        }
    }

    /// Moves what the engine produced into the manager: its requests to the driver, its
    /// events through the manager's rules.
    fn pump(&mut self, now: Timestamp) {
        loop {
            let Some(engine) = &mut self.engine else {
                return;
            };
            while let Some(inner) = engine.poll_transmit() {
                self.transmits.push_back(Transmit {
                    session: self.session,
                    inner,
                });
            }
            self.prior_websocket_success = engine.prior_websocket_success();
            let Some(event) = engine.poll_event() else {
                return;
            };
            self.on_engine_event(now, event);
        }
    }

    fn on_engine_event(&mut self, now: Timestamp, event: ClientEvent) {
        match event {
            ClientEvent::Open(_) => self.on_open(now),
            ClientEvent::Message(message) => {
                if self.state != ReadyState::Open {
                    return;
                }
                match self.decoder.decode(message) {
                    Ok(Some(packet)) => self.on_packet(now, packet),
                    Ok(None) => {}
                    Err(error) => {
                        tracing::debug!(%error, "undecodable packet from the server");
                        self.on_close(now, DisconnectReason::ParseError);
                    }
                }
            }
            ClientEvent::Ping => self.outputs.push_back(Output::Manager(ManagerEvent::Ping)),
            ClientEvent::Upgrade(kind) => self.outputs.push_back(Output::Transport(kind)),
            ClientEvent::UpgradeError(error) => {
                tracing::debug!(%error, "upgrade failed; staying on long-polling");
            }
            ClientEvent::Error(error) => {
                let error = ConnectError {
                    message: error.failure.as_str().to_owned(),
                    data: None,
                    description: Some(error.description),
                };
                if self.state == ReadyState::Opening {
                    self.on_open_error(now, error);
                } else if self.state == ReadyState::Open {
                    self.outputs
                        .push_back(Output::Manager(ManagerEvent::Error(error.clone())));
                    self.connect_error_to_waiting(&error);
                }
            }
            ClientEvent::Closed(reason) => {
                if self.state == ReadyState::Open {
                    self.on_close(now, reason.into());
                } else if self.state == ReadyState::Opening && reason != CloseReason::ForcedClose {
                    // Closed before the handshake without an error (the server closed it).
                    let failure = match self.transport() {
                        Some(TransportKind::WebSocket) => TransportFailure::WebSocket,
                        _ => TransportFailure::Poll,
                    };
                    self.on_open_error(
                        now,
                        ConnectError {
                            message: failure.as_str().to_owned(),
                            data: None,
                            description: Some(format!("closed before the handshake ({reason})")),
                        },
                    );
                }
            }
        }
    }

    // ----- the manager -----

    /// Opens the connection unless it is open or opening (`manager.open()`).
    pub(crate) fn open(&mut self, now: Timestamp) {
        self.open_engine(now, false);
    }

    fn open_engine(&mut self, now: Timestamp, reconnect_attempt: bool) {
        if self.state != ReadyState::Closed {
            return;
        }
        self.drop_engine(now);
        if !reconnect_attempt {
            // Opened by hand: a reconnection waiting for its delay is not needed any more.
            self.reconnect_at = None;
            self.reconnecting = false;
        }
        self.session += 1;
        let seed = (self.random() * (1u64 << 40) as f64) as u64;
        self.engine = Some(ClientSession::new(
            self.engine_options.clone(),
            self.endpoint.clone(),
            now,
            seed,
            self.prior_websocket_success,
        ));
        self.state = ReadyState::Opening;
        self.skip_reconnect = false;
        self.reconnect_attempt = reconnect_attempt;
        self.open_deadline = self.timeout.map(|timeout| now + timeout);
        self.decoder = self.parser.decoder(client_limits());
        self.pump(now);
    }

    /// Ends the engine session (if any) and takes its last requests.
    fn drop_engine(&mut self, _now: Timestamp) {
        let Some(mut engine) = self.engine.take() else {
            return;
        };
        engine.close();
        // A closing session (waiting to write what was sent) goes on by itself until it is
        // done, as the official client's engine does.
        self.closing.push((self.session, engine));
        self.pump_closing(self.closing.len() - 1);
    }

    fn on_open(&mut self, now: Timestamp) {
        self.open_deadline = None;
        self.state = ReadyState::Open;
        self.outputs.push_back(Output::Manager(ManagerEvent::Open));
        if let Some(kind) = self.transport() {
            self.outputs.push_back(Output::Transport(kind));
        }
        for key in 0..self.sockets.len() {
            if self.sockets[key].active {
                self.socket_on_open(now, key);
            }
        }
        if self.reconnect_attempt {
            self.reconnect_attempt = false;
            let attempt = self.backoff.attempts();
            self.reconnecting = false;
            self.backoff.reset();
            self.outputs
                .push_back(Output::Manager(ManagerEvent::Reconnect(attempt)));
        }
    }

    /// A connection attempt failed (the official manager's `onError` in `open`).
    fn on_open_error(&mut self, now: Timestamp, error: ConnectError) {
        self.open_deadline = None;
        self.state = ReadyState::Closed;
        self.drop_engine(now);
        self.outputs
            .push_back(Output::Manager(ManagerEvent::Error(error.clone())));
        self.connect_error_to_waiting(&error);
        if self.reconnect_attempt {
            self.reconnect_attempt = false;
            self.reconnecting = false;
            self.reconnect(now);
            self.outputs
                .push_back(Output::Manager(ManagerEvent::ReconnectError(error)));
        } else if !self.reconnecting && self.reconnection && self.backoff.attempts() == 0 {
            self.reconnect(now);
        }
    }

    /// `connect_error` to every active socket that is not connected.
    fn connect_error_to_waiting(&mut self, error: &ConnectError) {
        for key in 0..self.sockets.len() {
            let socket = &self.sockets[key];
            if socket.active && !socket.connected {
                self.socket_output(key, SocketOutput::ConnectError(error.clone()));
            }
        }
    }

    /// The connection closed (the official manager's `onclose`).
    fn on_close(&mut self, now: Timestamp, reason: DisconnectReason) {
        self.open_deadline = None;
        self.reconnect_at = None;
        self.drop_engine(now);
        self.backoff.reset();
        self.state = ReadyState::Closed;
        self.outputs
            .push_back(Output::Manager(ManagerEvent::Close(reason)));
        for key in 0..self.sockets.len() {
            if self.sockets[key].active {
                self.socket_on_close(now, key, reason);
            }
        }
        if self.reconnection && !self.skip_reconnect {
            self.reconnect(now);
        }
    }

    fn reconnect(&mut self, now: Timestamp) {
        if self.reconnecting || self.skip_reconnect {
            return;
        }
        if self.backoff.attempts() >= self.reconnection_attempts {
            self.backoff.reset();
            self.reconnecting = false;
            self.outputs
                .push_back(Output::Manager(ManagerEvent::ReconnectFailed));
            return;
        }
        let random = self.random();
        let delay = self.backoff.duration(random);
        self.reconnecting = true;
        self.reconnect_at = Some(now + delay);
    }

    /// Closes the connection for good (`forced close`; no reconnection).
    pub(crate) fn close(&mut self, now: Timestamp) {
        self.skip_reconnect = true;
        self.reconnecting = false;
        self.reconnect_attempt = false;
        self.on_close(now, DisconnectReason::ForcedClose);
    }

    /// The driver is gone: closes, and lets go of every waiter (they see the connection
    /// gone) and of everything buffered.
    pub(crate) fn shut_down(&mut self, now: Timestamp) {
        self.close(now);
        for socket in &mut self.sockets {
            socket.acks.clear();
            socket.take_buffered();
            while socket.pop_queued().is_some() {}
            socket.active = false;
        }
        self.outputs.clear();
        self.transmits.clear();
        self.closing.clear();
    }

    /// A socket stopped being active: with none left, the manager closes.
    fn on_socket_destroyed(&mut self, now: Timestamp) {
        if self.sockets.iter().all(|s| !s.active) {
            self.close(now);
        }
    }
}

/// What the client accepts in one packet from the server: Node's server sends any number
/// of attachments, so the limit is generous but still a limit.
fn client_limits() -> DecoderLimits {
    DecoderLimits {
        max_attachments: 1000,
        max_namespace_len: 1024,
    }
}
