//! The server side of one Engine.IO session, as a state machine driven by explicit time.
//!
//! A driver feeds it what happens (`handle_*`), sends what it asks for
//! ([`poll_transmit`](Session::poll_transmit)), hands its [`Event`]s to the application
//! ([`poll_event`](Session::poll_event)), and calls
//! [`handle_timeout`](Session::handle_timeout) when [`poll_timeout`](Session::poll_timeout)
//! is reached. It owns every rule of the protocol that does not need a socket: the ping
//! schedule and pong deadline, the upgrade probe, the one-GET-at-a-time rule of long-polling
//! and what each kind of close sends.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use std::sync::Arc;

use crate::queue::Queue;

use crate::handshake::Handshake;
use crate::packet::{Message, PROBE, Packet};
use crate::payload::encode_payload;
use crate::sid::Sid;
use crate::time::Timestamp;

/// Timing and limits of a session. The defaults are those of the Node.js server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Time between a pong (or the handshake) and the next ping. Default 25 s.
    pub ping_interval: Duration,
    /// Time the client has to answer a ping. Default 20 s.
    pub ping_timeout: Duration,
    /// Time a WebSocket has to complete an upgrade from long-polling. Default 10 s.
    pub upgrade_timeout: Duration,
    /// Time a closing long-polling session waits for a GET to carry the `close` packet.
    /// Default 30 s.
    pub close_timeout: Duration,
    /// Largest payload or message accepted, in bytes, announced in the handshake.
    /// Default 1 000 000.
    pub max_payload: u64,
    /// Whether a long-polling session may upgrade to WebSocket. Default true.
    pub allow_upgrades: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            close_timeout: Duration::from_millis(30_000),
            max_payload: 1_000_000,
            allow_upgrades: true,
        }
    }
}

/// The transports of Engine.IO v4 that a session can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling: GET requests receive, POST requests send.
    Polling,
    /// One WebSocket connection.
    WebSocket,
}

impl TransportKind {
    /// The name used in the `transport` query parameter.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }

    /// The transport for a `transport` query parameter value.
    pub fn from_query(value: &str) -> Option<Self> {
        match value {
            "polling" => Some(TransportKind::Polling),
            "websocket" => Some(TransportKind::WebSocket),
            _ => None,
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a session closed. [`as_str`](Self::as_str) gives the Node.js reason strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client closed the session (a `close` packet, or it closed its WebSocket).
    TransportClose,
    /// The transport failed: an I/O error, an aborted or overlapping long-polling request,
    /// a message over the size limit, or a protocol violation below Engine.IO.
    TransportError,
    /// The client did not answer a ping in time.
    PingTimeout,
    /// The client sent bytes that are not Engine.IO packets.
    ParseError,
    /// The server closed the session.
    ForcedClose,
}

impl CloseReason {
    /// The reason as the Node.js server words it.
    pub const fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the application learns from a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The client sent a message.
    Message(Message),
    /// The session moved from long-polling to WebSocket.
    Upgraded,
    /// The session is over; no event follows.
    Closed(CloseReason),
}

/// What the driver must send or do on the session's connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transmit {
    /// Write this packet on the session's WebSocket.
    WebSocket(Packet),
    /// Write this packet on the WebSocket that probes for an upgrade.
    Probe(Packet),
    /// Answer the pending long-polling GET with this payload.
    PollResponse(Bytes),
    /// The probing WebSocket is now the session's transport; long-polling is over.
    PromoteProbe,
    /// Close the probing WebSocket; the session goes on over long-polling.
    CloseProbe,
    /// Close the session's WebSocket.
    CloseWebSocket,
}

/// Why a long-polling GET was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollError {
    /// Another GET was already pending: the session is closed (`transport error`).
    Overlap,
    /// The session runs on WebSocket now; the session is unaffected.
    TransportMismatch,
    /// The session is closed.
    Closed,
}

/// Why a WebSocket with this session's id cannot upgrade it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// The session is closing or closed.
    Closed,
    /// The session already runs on WebSocket.
    AlreadyUpgraded,
    /// Another WebSocket is upgrading the session.
    AlreadyUpgrading,
    /// Upgrades are disabled.
    NotAllowed,
}

/// A session was closed when something was sent to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionClosed;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// The server closes: the buffer is flushed first. Long-polling waits for a GET until
    /// `deadline`.
    Closing {
        deadline: Option<Timestamp>,
    },
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Heartbeat {
    PingAt(Timestamp),
    PongBy(Timestamp),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Upgrade {
    None,
    /// A WebSocket with this sid is open and has until `deadline` to finish.
    Opened {
        deadline: Timestamp,
    },
    /// It has sent `2probe` and received `3probe`.
    Probed {
        deadline: Timestamp,
    },
}

impl Upgrade {
    fn deadline(self) -> Option<Timestamp> {
        match self {
            Upgrade::None => None,
            Upgrade::Opened { deadline } | Upgrade::Probed { deadline } => Some(deadline),
        }
    }
}

const CLOSE_PAYLOAD: &[u8] = b"1";
const NOOP_PAYLOAD: &[u8] = b"6";

impl fmt::Display for PollError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PollError::Overlap => "overlapping long-polling GET requests",
            PollError::TransportMismatch => "the session no longer uses long-polling",
            PollError::Closed => "the session is closed",
        })
    }
}

impl std::error::Error for PollError {}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeError::Closed => "the session is closing or closed",
            ProbeError::AlreadyUpgraded => "the session already uses WebSocket",
            ProbeError::AlreadyUpgrading => "another WebSocket is upgrading the session",
            ProbeError::NotAllowed => "upgrades are disabled",
        })
    }
}

impl std::error::Error for ProbeError {}

impl fmt::Display for SessionClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the session is closed")
    }
}

impl std::error::Error for SessionClosed {}

/// The server side of one Engine.IO session, as a state machine driven by explicit time.
///
/// A driver feeds it what happens (`handle_*`), sends what it asks for
/// ([`poll_transmit`](Session::poll_transmit)), hands its [`Event`]s to the application
/// ([`poll_event`](Session::poll_event)), and calls
/// [`handle_timeout`](Session::handle_timeout) when [`poll_timeout`](Session::poll_timeout)
/// is reached. It owns every rule of the protocol that does not need a socket: the ping
/// schedule and pong deadline, the upgrade probe, the one-GET-at-a-time rule of long-polling
/// and what each kind of close sends.
#[derive(Debug)]
pub struct Session {
    /// Shared by every session of a server: one pointer per session, not 80 bytes.
    config: Arc<SessionConfig>,
    sid: Sid,
    transport: TransportKind,
    state: State,
    /// A long-polling GET waits for data.
    poll_pending: bool,
    upgrade: Upgrade,
    heartbeat: Heartbeat,
    /// Packets waiting for the transport: for long-polling, until the next GET.
    buffer: Queue<Packet>,
    /// Actions that come before the buffer: answers to GETs, probe traffic, closes.
    transmits: Queue<Transmit>,
    events: Queue<Event>,
}

impl Session {
    /// Opens a session on `transport`; the handshake is the first packet to transmit.
    ///
    /// For long-polling, the request that opened the session counts as the first GET: call
    /// [`handle_poll`](Self::handle_poll) for it.
    pub fn new(
        sid: Sid,
        config: impl Into<Arc<SessionConfig>>,
        transport: TransportKind,
        now: Timestamp,
    ) -> Self {
        let config = config.into();
        let upgrades = if transport == TransportKind::Polling && config.allow_upgrades {
            vec![TransportKind::WebSocket.as_str().to_owned()]
        } else {
            Vec::new()
        };
        let handshake = Handshake {
            sid: sid.to_string(),
            upgrades,
            ping_interval: millis(config.ping_interval),
            ping_timeout: millis(config.ping_timeout),
            max_payload: config.max_payload,
        };
        let mut buffer = Queue::new();
        buffer.push_back(Packet::Open(Bytes::from(handshake.to_json())));
        Session {
            heartbeat: Heartbeat::PingAt(now + config.ping_interval),
            config,
            sid,
            transport,
            state: State::Open,
            poll_pending: false,
            upgrade: Upgrade::None,
            buffer,
            transmits: Queue::new(),
            events: Queue::new(),
        }
    }

    /// The session id.
    pub fn sid(&self) -> Sid {
        self.sid
    }

    /// The transport the session runs on now.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// The session's configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether the session is closed (its [`Event::Closed`] has been queued).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether the session is open, neither closing nor closed.
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Whether a WebSocket is probing for an upgrade.
    pub fn is_upgrading(&self) -> bool {
        self.upgrade != Upgrade::None
    }

    /// Number of packets waiting for the transport.
    pub fn buffered_packets(&self) -> usize {
        self.buffer.len()
    }

    /// Whether a packet sent now would be written at once rather than wait in the buffer:
    /// on WebSocket with nothing queued, or on long-polling with a GET pending.
    pub fn is_writable(&self) -> bool {
        self.state == State::Open
            && self.buffer.is_empty()
            && (self.transport == TransportKind::WebSocket || self.poll_pending)
    }

    /// Queues a message for the client.
    pub fn send(&mut self, message: Message) -> Result<(), SessionClosed> {
        if self.state != State::Open {
            return Err(SessionClosed);
        }
        self.buffer.push_back(Packet::Message(message));
        Ok(())
    }

    /// Closes the session from the server side: queued packets are sent first, then
    /// long-polling delivers a `close` packet with the next GET (or gives up after the
    /// close timeout) and a WebSocket is closed. The reason is `forced close`.
    pub fn close(&mut self, now: Timestamp) {
        self.close_within(now, self.config.close_timeout);
    }

    /// Like [`close`](Self::close), but long-polling waits at most `timeout` for a GET to
    /// carry the `close` packet (a server shutting down passes its grace period). On a
    /// session already closing, shortens its wait to `timeout` if that is sooner.
    pub fn close_within(&mut self, now: Timestamp, timeout: Duration) {
        let deadline = match self.transport {
            TransportKind::Polling => Some(now + timeout),
            TransportKind::WebSocket => None,
        };
        match self.state {
            State::Open => self.state = State::Closing { deadline },
            State::Closing {
                deadline: Some(current),
            } if deadline.is_some_and(|new| new < current) => {
                self.state = State::Closing { deadline };
            }
            State::Closing { .. } | State::Closed => {}
        }
    }

    /// A long-polling GET arrived. On success the driver keeps the request open until
    /// [`Transmit::PollResponse`] answers it; on error it answers 400.
    pub fn handle_poll(&mut self, _now: Timestamp) -> Result<(), PollError> {
        if self.state == State::Closed {
            return Err(PollError::Closed);
        }
        if self.transport != TransportKind::Polling {
            return Err(PollError::TransportMismatch);
        }
        if self.poll_pending {
            self.close_now(CloseReason::TransportError);
            return Err(PollError::Overlap);
        }
        self.poll_pending = true;
        if matches!(self.upgrade, Upgrade::Probed { .. }) && self.buffer.is_empty() {
            // The client is about to switch: end its poll at once.
            self.answer_poll(NOOP_PAYLOAD);
        }
        Ok(())
    }

    /// The pending GET went away before it was answered (the client aborted it).
    pub fn handle_poll_aborted(&mut self, _now: Timestamp) {
        if self.poll_pending {
            self.poll_pending = false;
            self.close_now(CloseReason::TransportError);
        }
    }

    /// A packet arrived on the session's transport (a POST payload or its WebSocket).
    pub fn handle_packet(&mut self, now: Timestamp, packet: Packet) {
        match packet {
            Packet::Close => self.close_now(CloseReason::TransportClose),
            _ if self.state != State::Open => {}
            Packet::Message(message) => self.events.push_back(Event::Message(message)),
            Packet::Pong(_) => {
                if let Heartbeat::PongBy(_) = self.heartbeat {
                    self.heartbeat = Heartbeat::PingAt(now + self.config.ping_interval);
                }
            }
            // In Engine.IO v4 only the server pings.
            Packet::Ping(_) => self.close_now(CloseReason::TransportError),
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    /// The client sent bytes that do not decode as packets.
    pub fn handle_parse_error(&mut self, _now: Timestamp) {
        self.close_now(CloseReason::ParseError);
    }

    /// The session's transport failed (I/O error, protocol violation, limit exceeded).
    pub fn handle_transport_error(&mut self, _now: Timestamp) {
        self.close_now(CloseReason::TransportError);
    }

    /// The client closed the session's WebSocket.
    pub fn handle_transport_closed(&mut self, _now: Timestamp) {
        self.close_now(CloseReason::TransportClose);
    }

    /// A WebSocket carrying this session's id connected and wants to upgrade the session.
    /// On error the driver closes that WebSocket; the session is unaffected.
    pub fn handle_probe_opened(&mut self, now: Timestamp) -> Result<(), ProbeError> {
        if self.state != State::Open {
            return Err(ProbeError::Closed);
        }
        if self.transport == TransportKind::WebSocket {
            return Err(ProbeError::AlreadyUpgraded);
        }
        if !self.config.allow_upgrades {
            return Err(ProbeError::NotAllowed);
        }
        if self.upgrade != Upgrade::None {
            return Err(ProbeError::AlreadyUpgrading);
        }
        self.upgrade = Upgrade::Opened {
            deadline: now + self.config.upgrade_timeout,
        };
        Ok(())
    }

    /// A packet arrived on the probing WebSocket.
    pub fn handle_probe_packet(&mut self, _now: Timestamp, packet: Packet) {
        let Some(deadline) = self.upgrade.deadline() else {
            return;
        };
        match packet {
            Packet::Ping(ref data) if data.as_ref() == PROBE && self.state == State::Open => {
                self.transmits
                    .push_back(Transmit::Probe(Packet::Pong(Bytes::from_static(PROBE))));
                self.upgrade = Upgrade::Probed { deadline };
                if self.poll_pending && self.buffer.is_empty() {
                    self.answer_poll(NOOP_PAYLOAD);
                }
            }
            Packet::Upgrade if self.state != State::Closed => {
                if self.poll_pending {
                    self.answer_poll(NOOP_PAYLOAD);
                }
                self.upgrade = Upgrade::None;
                self.transport = TransportKind::WebSocket;
                if let State::Closing { .. } = self.state {
                    self.state = State::Closing { deadline: None };
                }
                self.transmits.push_back(Transmit::PromoteProbe);
                self.events.push_back(Event::Upgraded);
            }
            _ => {
                self.upgrade = Upgrade::None;
                self.transmits.push_back(Transmit::CloseProbe);
            }
        }
    }

    /// The probing WebSocket closed or failed before completing the upgrade.
    pub fn handle_probe_closed(&mut self, _now: Timestamp) {
        self.upgrade = Upgrade::None;
    }

    /// Advances timers: sends due pings, closes on a missed pong, abandons a stalled
    /// upgrade, ends a close that waited too long for a GET.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.state == State::Closed {
            return;
        }
        if let State::Closing {
            deadline: Some(deadline),
        } = self.state
            && now >= deadline
        {
            self.close_now(CloseReason::ForcedClose);
            return;
        }
        match self.heartbeat {
            Heartbeat::PongBy(deadline) if now >= deadline => {
                self.close_now(CloseReason::PingTimeout);
                return;
            }
            Heartbeat::PingAt(at) if now >= at => {
                self.buffer.push_back(Packet::ping());
                // From when the ping was due, not when the timer was handled: a late
                // wake-up must not stretch the heartbeat past `interval + timeout`.
                let deadline = at + self.config.ping_timeout;
                self.heartbeat = Heartbeat::PongBy(if deadline > now {
                    deadline
                } else {
                    now + self.config.ping_timeout
                });
            }
            _ => {}
        }
        if let Some(deadline) = self.upgrade.deadline()
            && now >= deadline
        {
            self.upgrade = Upgrade::None;
            self.transmits.push_back(Transmit::CloseProbe);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let closing = match self.state {
            State::Closed => return None,
            State::Closing { deadline } => deadline,
            State::Open => None,
        };
        let heartbeat = match self.heartbeat {
            Heartbeat::PingAt(at) | Heartbeat::PongBy(at) => at,
        };
        [closing, self.upgrade.deadline()]
            .into_iter()
            .flatten()
            .fold(heartbeat, Ord::min)
            .into()
    }

    /// The next thing to send, in order; call until `None` after every input.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(transmit) = self.transmits.pop_front() {
            return Some(transmit);
        }
        let closing = match self.state {
            State::Closed => return None,
            State::Closing { .. } => true,
            State::Open => false,
        };
        match self.transport {
            TransportKind::WebSocket => {
                if let Some(packet) = self.buffer.pop_front() {
                    return Some(Transmit::WebSocket(packet));
                }
                if closing {
                    self.close_now(CloseReason::ForcedClose);
                    return self.transmits.pop_front();
                }
                None
            }
            TransportKind::Polling => {
                if !self.poll_pending || (self.buffer.is_empty() && !closing) {
                    return None;
                }
                if closing {
                    self.buffer.push_back(Packet::Close);
                }
                let payload = encode_payload(&self.buffer);
                self.buffer.clear();
                self.poll_pending = false;
                if closing {
                    self.close_now(CloseReason::ForcedClose);
                }
                Some(Transmit::PollResponse(payload))
            }
        }
    }

    /// The next event for the application, in order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn answer_poll(&mut self, payload: &'static [u8]) {
        self.poll_pending = false;
        self.transmits
            .push_back(Transmit::PollResponse(Bytes::from_static(payload)));
    }

    /// Ends the session at once: a pending GET is answered (`6` if the client asked to
    /// close, `1` otherwise), WebSockets are closed, the buffer is dropped.
    fn close_now(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        if self.poll_pending {
            let payload = if reason == CloseReason::TransportClose {
                NOOP_PAYLOAD
            } else {
                CLOSE_PAYLOAD
            };
            self.answer_poll(payload);
        }
        if self.transport == TransportKind::WebSocket {
            self.transmits.push_back(Transmit::CloseWebSocket);
        }
        if self.upgrade != Upgrade::None {
            self.upgrade = Upgrade::None;
            self.transmits.push_back(Transmit::CloseProbe);
        }
        self.buffer.clear();
        self.events.push_back(Event::Closed(reason));
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
