//! The client side of an Engine.IO session, as a state machine driven by explicit time.
//!
//! A [`ClientSession`] is one attempt at a session, from the first request to the close. It
//! decides which transport to open and every request to make ([`ClientTransmit`]); the
//! driver makes them and reports what happened through `handle_*`, tagged with the
//! [`TransportId`] of the transport it happened on (reports about a transport the session
//! has let go of are ignored). It owns the rules of the official `engine.io-client`: the
//! handshake, answering pings and closing with `ping timeout` when none comes within
//! `pingInterval + pingTimeout`, one GET and one POST at a time on long-polling with POST
//! bodies kept within the server's `maxPayload`, the upgrade probe (`2probe`, `3probe`,
//! pausing long-polling until its requests are done, `5`), `rememberUpgrade`,
//! `tryAllTransports` and the reasons a session closes.
//!
//! ```
//! use engineio_proto::client::{ClientEvent, ClientOptions, ClientSession, ClientTransmit};
//! use engineio_proto::{Endpoint, Message, Packet, Timestamp, encode_payload};
//!
//! let endpoint = Endpoint::new(false, "localhost", 3000);
//! let now = Timestamp::ZERO;
//! let mut session = ClientSession::new(ClientOptions::default(), endpoint, now, 7, false);
//!
//! // First a long-polling GET: the handshake.
//! let Some(ClientTransmit::Poll { transport, url }) = session.poll_transmit() else { panic!() };
//! assert_eq!(url, "http://localhost:3000/engine.io/?EIO=4&transport=polling&t=7");
//!
//! let open = r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
//! let body = encode_payload(&[Packet::decode_text(open.into())?, Packet::Message(Message::text("hi"))]);
//! session.handle_poll_response(now, transport, body);
//! assert!(matches!(session.poll_event(), Some(ClientEvent::Open(_))));
//! assert_eq!(session.poll_event(), Some(ClientEvent::Message(Message::text("hi"))));
//!
//! // The next GET carries the session id; a message goes out in a POST.
//! assert!(matches!(session.poll_transmit(), Some(ClientTransmit::Poll { url, .. }) if url.contains("sid=abc")));
//! session.send(Message::text("hello"))?;
//! assert!(matches!(session.poll_transmit(), Some(ClientTransmit::Post { body, .. }) if &body[..] == b"4hello"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod types;
mod url;

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use crate::handshake::Handshake;
use crate::packet::{Message, PROBE, Packet};
use crate::payload::{decode_payload, encode_payload};
use crate::session::{CloseReason, TransportKind};
use crate::time::Timestamp;

pub use types::{
    ClientEvent, ClientOptions, ClientTransmit, SendError, TransportError, TransportFailure,
    TransportId,
};
pub use url::{Endpoint, encode_component};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadyState {
    Opening,
    Open,
    Closing,
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TransportState {
    Opening,
    Open,
    /// Long-polling finishing its requests before an upgrade.
    Pausing,
    Paused,
    Closed,
}

#[derive(Debug)]
struct Transport {
    id: TransportId,
    kind: TransportKind,
    state: TransportState,
    /// Writes (POSTs, WebSocket batches) not yet drained.
    in_flight: usize,
    /// Whether a long-polling GET is out.
    polling: bool,
}

impl Transport {
    fn writable(&self) -> bool {
        matches!(
            self.state,
            TransportState::Open | TransportState::Pausing | TransportState::Paused
        ) && self.in_flight == 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProbeStage {
    Connecting,
    /// `2probe` sent, waiting for `3probe`.
    Pinged,
    /// `3probe` came; long-polling is pausing.
    Pausing,
}

#[derive(Debug)]
struct Probe {
    transport: Transport,
    stage: ProbeStage,
}

/// What a closing session waits for before it closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CloseWait {
    Drain,
    Upgrade,
}

/// The client side of one Engine.IO session. See the [module docs](self).
#[derive(Debug)]
pub struct ClientSession {
    options: ClientOptions,
    endpoint: Endpoint,
    state: ReadyState,
    /// Transports still to try (`tryAllTransports` drops the first when it fails).
    transports: Vec<TransportKind>,
    transport: Transport,
    probe: Option<Probe>,
    upgrading: bool,
    sid: Option<String>,
    upgrades: Vec<TransportKind>,
    ping_interval: Duration,
    ping_timeout: Duration,
    /// The server's `maxPayload`; 0 until the handshake.
    max_payload: u64,
    ping_deadline: Option<Timestamp>,
    write_buffer: VecDeque<Packet>,
    closing: Option<CloseWait>,
    prior_websocket_success: bool,
    next_transport: u64,
    next_t: u64,
    transmits: VecDeque<ClientTransmit>,
    events: VecDeque<ClientEvent>,
}

impl ClientSession {
    /// Starts a session: the first transport's request is ready to
    /// [`poll_transmit`](Self::poll_transmit). `seed` starts the `t` parameter's counter
    /// (draw it at random, so that no cache answers a handshake from another client);
    /// `prior_websocket_success` is what [`prior_websocket_success`](Self::prior_websocket_success)
    /// said at the end of the last session, for `rememberUpgrade`.
    pub fn new(
        options: ClientOptions,
        endpoint: Endpoint,
        now: Timestamp,
        seed: u64,
        prior_websocket_success: bool,
    ) -> Self {
        let transports = options.transports.clone();
        let mut session = ClientSession {
            options,
            endpoint,
            state: ReadyState::Opening,
            transports,
            transport: Transport {
                id: TransportId(0),
                kind: TransportKind::Polling,
                state: TransportState::Closed,
                in_flight: 0,
                polling: false,
            },
            probe: None,
            upgrading: false,
            sid: None,
            upgrades: Vec::new(),
            ping_interval: Duration::ZERO,
            ping_timeout: Duration::ZERO,
            max_payload: 0,
            ping_deadline: None,
            write_buffer: VecDeque::new(),
            closing: None,
            prior_websocket_success,
            next_transport: 0,
            next_t: seed,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        session.open(now);
        session
    }

    fn open(&mut self, _now: Timestamp) {
        let Some(&first) = self.transports.first() else {
            self.events.push_back(ClientEvent::Error(TransportError {
                failure: TransportFailure::Poll,
                description: "No transports available".to_owned(),
            }));
            self.state = ReadyState::Closed;
            self.events
                .push_back(ClientEvent::Closed(CloseReason::TransportError));
            return;
        };
        let kind = if self.options.remember_upgrade
            && self.prior_websocket_success
            && self.transports.contains(&TransportKind::WebSocket)
        {
            TransportKind::WebSocket
        } else {
            first
        };
        self.state = ReadyState::Opening;
        self.transport = self.open_transport(kind);
    }

    /// Creates a transport and asks the driver to open it.
    fn open_transport(&mut self, kind: TransportKind) -> Transport {
        self.next_transport += 1;
        let id = TransportId(self.next_transport);
        let url = self.url(kind);
        let mut transport = Transport {
            id,
            kind,
            state: TransportState::Opening,
            in_flight: 0,
            polling: false,
        };
        match kind {
            TransportKind::Polling => {
                transport.polling = true;
                self.transmits
                    .push_back(ClientTransmit::Poll { transport: id, url });
            }
            TransportKind::WebSocket => {
                self.transmits
                    .push_back(ClientTransmit::Connect { transport: id, url });
            }
        }
        transport
    }

    fn url(&mut self, kind: TransportKind) -> String {
        let stamp = self
            .options
            .timestamp_requests
            .unwrap_or(kind == TransportKind::Polling);
        let t = stamp.then(|| {
            let t = url::base36(self.next_t);
            self.next_t = self.next_t.wrapping_add(1);
            t
        });
        self.endpoint.url(kind, self.sid.as_deref(), t.as_deref())
    }

    /// The session id, once the handshake has come.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The transport in use.
    pub fn transport(&self) -> TransportKind {
        self.transport.kind
    }

    /// Whether the handshake has come and the session is not closing.
    pub fn is_open(&self) -> bool {
        self.state == ReadyState::Open
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == ReadyState::Closed
    }

    /// Whether a message sent now goes out at once: the session is open, no upgrade is
    /// under way, and the transport has no write in progress. (A volatile message is sent
    /// only then.)
    pub fn is_writable(&self) -> bool {
        self.state == ReadyState::Open && !self.upgrading && self.transport.writable()
    }

    /// The server's `maxPayload`, once the handshake has come.
    pub fn max_payload(&self) -> Option<u64> {
        (self.max_payload > 0).then_some(self.max_payload)
    }

    /// Messages waiting for the transport.
    pub fn buffered(&self) -> usize {
        self.write_buffer.len()
    }

    /// Whether the last WebSocket opened worked (the official client's
    /// `priorWebsocketSuccess`): pass it to the next session for `rememberUpgrade`.
    pub fn prior_websocket_success(&self) -> bool {
        self.prior_websocket_success
    }

    /// Whether [`send`](Self::send) would take `message` now (so that a caller sending
    /// several messages that belong together can check them all first).
    pub fn check(&self, message: &Message) -> Result<(), SendError> {
        if matches!(self.state, ReadyState::Closing | ReadyState::Closed) {
            return Err(SendError::Closed);
        }
        let len = message_len(message, self.transport.kind);
        if self.max_payload > 0 && len as u64 > self.max_payload {
            return Err(SendError::TooLarge {
                len,
                max: self.max_payload,
            });
        }
        Ok(())
    }

    /// Queues a message; it goes out as soon as the transport can take it.
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        self.check(&message)?;
        self.write_buffer.push_back(Packet::Message(message));
        self.flush();
        Ok(())
    }

    /// Closes the session (`forced close`) once what was sent is written and any upgrade
    /// under way has finished; at once while the handshake has not come.
    pub fn close(&mut self) {
        match self.state {
            ReadyState::Opening => return self.on_close(CloseReason::ForcedClose),
            ReadyState::Open => {}
            ReadyState::Closing | ReadyState::Closed => return,
        }
        self.state = ReadyState::Closing;
        if !self.write_buffer.is_empty() || self.transport.in_flight > 0 {
            self.closing = Some(CloseWait::Drain);
        } else if self.upgrading {
            self.closing = Some(CloseWait::Upgrade);
        } else {
            self.on_close(CloseReason::ForcedClose);
        }
    }

    /// The body of a long-polling GET arrived.
    pub fn handle_poll_response(&mut self, now: Timestamp, transport: TransportId, body: Bytes) {
        if transport != self.transport.id || self.transport.kind != TransportKind::Polling {
            return;
        }
        for packet in decode_payload(body) {
            let packet = match packet {
                Ok(packet) => packet,
                Err(error) => {
                    self.on_error(TransportFailure::Parse, error.to_string());
                    return;
                }
            };
            if self.transport.state == TransportState::Opening && matches!(packet, Packet::Open(_))
            {
                self.transport.state = TransportState::Open;
            }
            if packet == Packet::Close {
                self.transport.state = TransportState::Closed;
                self.on_close(CloseReason::TransportClose);
                return;
            }
            self.on_packet(now, packet);
            if self.transport.id != transport || self.is_closed() {
                return;
            }
        }
        self.transport.polling = false;
        match self.transport.state {
            TransportState::Open => {
                self.transport.polling = true;
                let url = self.url(TransportKind::Polling);
                self.transmits.push_back(ClientTransmit::Poll {
                    transport: self.transport.id,
                    url,
                });
            }
            TransportState::Pausing => self.try_pause(),
            // A handshake GET answered without an `open` packet: nothing would come next.
            TransportState::Opening => {
                self.on_error(TransportFailure::Parse, "no open packet".to_owned())
            }
            _ => {}
        }
    }

    /// A WebSocket opened.
    pub fn handle_opened(&mut self, _now: Timestamp, transport: TransportId) {
        if transport == self.transport.id && self.transport.state == TransportState::Opening {
            self.transport.state = TransportState::Open;
            return;
        }
        let Some(probe) = &mut self.probe else {
            return;
        };
        if probe.transport.id != transport || probe.stage != ProbeStage::Connecting {
            return;
        }
        probe.transport.state = TransportState::Open;
        probe.stage = ProbeStage::Pinged;
        probe.transport.in_flight += 1;
        self.transmits.push_back(ClientTransmit::Send {
            transport,
            packets: vec![Packet::Ping(Bytes::from_static(PROBE))],
        });
    }

    /// A packet arrived on a WebSocket.
    pub fn handle_packet(&mut self, now: Timestamp, transport: TransportId, packet: Packet) {
        if transport == self.transport.id {
            self.on_packet(now, packet);
        } else if self
            .probe
            .as_ref()
            .is_some_and(|p| p.transport.id == transport)
        {
            self.on_probe_packet(packet);
        }
    }

    /// A WebSocket message that is not an Engine.IO packet arrived.
    pub fn handle_decode_error(&mut self, now: Timestamp, transport: TransportId) {
        self.handle_error(
            now,
            transport,
            TransportFailure::Parse,
            "not an Engine.IO packet".to_owned(),
        );
    }

    /// A POST, or a batch of WebSocket writes, completed.
    pub fn handle_drain(&mut self, _now: Timestamp, transport: TransportId) {
        if let Some(probe) = &mut self.probe
            && probe.transport.id == transport
        {
            probe.transport.in_flight = probe.transport.in_flight.saturating_sub(1);
            return;
        }
        if transport != self.transport.id {
            return;
        }
        self.transport.in_flight = self.transport.in_flight.saturating_sub(1);
        if self.transport.in_flight > 0 {
            return;
        }
        if self.transport.state == TransportState::Pausing {
            self.try_pause();
            return;
        }
        if self.write_buffer.is_empty() {
            if self.closing == Some(CloseWait::Drain) {
                if self.upgrading {
                    self.closing = Some(CloseWait::Upgrade);
                } else {
                    self.on_close(CloseReason::ForcedClose);
                }
            }
        } else {
            self.flush();
        }
    }

    /// A request or the WebSocket failed.
    pub fn handle_error(
        &mut self,
        _now: Timestamp,
        transport: TransportId,
        failure: TransportFailure,
        description: String,
    ) {
        if transport == self.transport.id {
            self.on_error(failure, description);
        } else if self
            .probe
            .as_ref()
            .is_some_and(|p| p.transport.id == transport)
        {
            self.fail_probe(format!("probe error: {}", failure.as_str()));
        }
    }

    /// The WebSocket closed without an error (the server closed it).
    pub fn handle_closed(&mut self, _now: Timestamp, transport: TransportId) {
        if transport == self.transport.id {
            self.transport.state = TransportState::Closed;
            self.on_close(CloseReason::TransportClose);
        } else if self
            .probe
            .as_ref()
            .is_some_and(|p| p.transport.id == transport)
        {
            self.fail_probe("probe error: transport closed".to_owned());
        }
    }

    /// Runs what is due at `now`: a session whose ping is overdue closes with `ping
    /// timeout`. Call it when [`poll_timeout`](Self::poll_timeout) is reached, and before
    /// deciding that the session is connected (a timer may fire late).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.ping_deadline.is_some_and(|deadline| now >= deadline) {
            self.on_close(CloseReason::PingTimeout);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.ping_deadline
    }

    /// The next thing for the driver to do.
    pub fn poll_transmit(&mut self) -> Option<ClientTransmit> {
        self.transmits.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    fn on_packet(&mut self, now: Timestamp, packet: Packet) {
        if self.state == ReadyState::Closed {
            return;
        }
        match packet {
            Packet::Open(data) => {
                if self.sid.is_some() {
                    return;
                }
                match Handshake::from_json(&data) {
                    Ok(handshake) => self.on_handshake(now, handshake),
                    Err(error) => self.on_error(TransportFailure::Parse, error.to_string()),
                }
            }
            Packet::Ping(_) => {
                self.write_buffer.push_back(Packet::pong());
                self.events.push_back(ClientEvent::Ping);
                self.reset_ping_timeout(now);
                self.flush();
            }
            Packet::Message(message) => self.events.push_back(ClientEvent::Message(message)),
            Packet::Close | Packet::Pong(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    fn on_handshake(&mut self, now: Timestamp, handshake: Handshake) {
        self.sid = Some(handshake.sid.clone());
        self.ping_interval = Duration::from_millis(handshake.ping_interval);
        self.ping_timeout = Duration::from_millis(handshake.ping_timeout);
        self.max_payload = handshake.max_payload;
        self.upgrades = handshake
            .upgrades
            .iter()
            .filter_map(|name| TransportKind::from_query(name))
            .filter(|kind| self.transports.contains(kind))
            .collect();
        let opening = self.state == ReadyState::Opening;
        if opening {
            self.state = ReadyState::Open;
        }
        self.prior_websocket_success = self.transport.kind == TransportKind::WebSocket;
        self.events.push_back(ClientEvent::Open(handshake));
        self.reset_ping_timeout(now);
        self.flush();
        if opening
            && self.options.upgrade
            && self.transport.kind == TransportKind::Polling
            && self.upgrades.contains(&TransportKind::WebSocket)
        {
            self.start_probe();
        }
    }

    fn reset_ping_timeout(&mut self, now: Timestamp) {
        self.ping_deadline = Some(now + self.ping_interval + self.ping_timeout);
    }

    fn start_probe(&mut self) {
        self.prior_websocket_success = false;
        let transport = self.open_transport(TransportKind::WebSocket);
        self.probe = Some(Probe {
            transport,
            stage: ProbeStage::Connecting,
        });
    }

    fn on_probe_packet(&mut self, packet: Packet) {
        let Some(probe) = &mut self.probe else {
            return;
        };
        if probe.stage != ProbeStage::Pinged {
            return;
        }
        if !matches!(&packet, Packet::Pong(data) if data.as_ref() == PROBE) {
            self.fail_probe("probe error".to_owned());
            return;
        }
        probe.stage = ProbeStage::Pausing;
        self.upgrading = true;
        self.prior_websocket_success = true;
        self.transport.state = TransportState::Pausing;
        self.try_pause();
    }

    /// Long-polling is paused once its GET has come back and its POST has drained; then
    /// the probe's WebSocket takes over.
    fn try_pause(&mut self) {
        if self.transport.state != TransportState::Pausing
            || self.transport.polling
            || self.transport.in_flight > 0
        {
            return;
        }
        self.transport.state = TransportState::Paused;
        let Some(probe) = self.probe.take() else {
            return;
        };
        if self.state == ReadyState::Closed {
            return;
        }
        let old = std::mem::replace(&mut self.transport, probe.transport);
        self.transmits
            .push_back(ClientTransmit::Close { transport: old.id });
        self.transport.in_flight += 1;
        self.transmits.push_back(ClientTransmit::Send {
            transport: self.transport.id,
            packets: vec![Packet::Upgrade],
        });
        self.events
            .push_back(ClientEvent::Upgrade(self.transport.kind));
        self.upgrading = false;
        if self.closing == Some(CloseWait::Upgrade) {
            self.on_close(CloseReason::ForcedClose);
            return;
        }
        self.flush();
    }

    fn fail_probe(&mut self, message: String) {
        let Some(probe) = self.probe.take() else {
            return;
        };
        self.transmits.push_back(ClientTransmit::Close {
            transport: probe.transport.id,
        });
        self.events.push_back(ClientEvent::UpgradeError(message));
        if probe.stage == ProbeStage::Pausing {
            // The pong came and long-polling was pausing: it resumes.
            self.upgrading = false;
            self.transport.state = TransportState::Open;
            if !self.transport.polling {
                self.transport.polling = true;
                let url = self.url(TransportKind::Polling);
                self.transmits.push_back(ClientTransmit::Poll {
                    transport: self.transport.id,
                    url,
                });
            }
            if self.closing == Some(CloseWait::Upgrade) {
                self.on_close(CloseReason::ForcedClose);
                return;
            }
            self.flush();
        }
    }

    fn flush(&mut self) {
        // Nothing before the handshake: a WebSocket is writable before its `open` packet.
        if matches!(self.state, ReadyState::Opening | ReadyState::Closed)
            || self.upgrading
            || !self.transport.writable()
            || self.write_buffer.is_empty()
        {
            return;
        }
        let id = self.transport.id;
        match self.transport.kind {
            TransportKind::WebSocket => {
                let packets = self.write_buffer.drain(..).collect();
                self.transport.in_flight += 1;
                self.transmits.push_back(ClientTransmit::Send {
                    transport: id,
                    packets,
                });
            }
            TransportKind::Polling => {
                // As many packets as fit in the server's maxPayload, at least one.
                let mut take = 0;
                let mut size = 0u64;
                for packet in &self.write_buffer {
                    let len =
                        encoded_len(packet, TransportKind::Polling) as u64 + u64::from(take > 0);
                    if take > 0 && self.max_payload > 0 && size + len > self.max_payload {
                        break;
                    }
                    size += len;
                    take += 1;
                }
                let packets: Vec<Packet> = self.write_buffer.drain(..take).collect();
                let body = encode_payload(&packets);
                let url = self.url(TransportKind::Polling);
                self.transport.in_flight += 1;
                self.transmits.push_back(ClientTransmit::Post {
                    transport: id,
                    url,
                    body,
                });
            }
        }
    }

    fn on_error(&mut self, failure: TransportFailure, description: String) {
        // A goodbye POST, or a flush of a transport let go of, may fail after the close.
        if self.state == ReadyState::Closed {
            return;
        }
        self.prior_websocket_success = false;
        if self.options.try_all_transports
            && self.transports.len() > 1
            && self.state == ReadyState::Opening
        {
            self.transmits.push_back(ClientTransmit::Close {
                transport: self.transport.id,
            });
            self.transport.state = TransportState::Closed;
            let failed = self.transport.kind;
            if let Some(i) = self.transports.iter().position(|&kind| kind == failed) {
                self.transports.remove(i);
            }
            // The next transport; rememberUpgrade applies to the first attempt only.
            let next = self.transports[0];
            self.transport = self.open_transport(next);
            return;
        }
        self.events.push_back(ClientEvent::Error(TransportError {
            failure,
            description,
        }));
        self.on_close(CloseReason::TransportError);
    }

    fn on_close(&mut self, reason: CloseReason) {
        if self.state == ReadyState::Closed {
            return;
        }
        self.ping_deadline = None;
        if let Some(probe) = self.probe.take() {
            self.transmits.push_back(ClientTransmit::Close {
                transport: probe.transport.id,
            });
            self.events.push_back(ClientEvent::UpgradeError(
                "probe error: socket closed".into(),
            ));
        }
        let id = self.transport.id;
        if self.transport.kind == TransportKind::Polling
            && matches!(
                self.transport.state,
                TransportState::Open | TransportState::Pausing | TransportState::Paused
            )
        {
            // Long-polling says goodbye with a `close` packet, as the official client does.
            let url = self.url(TransportKind::Polling);
            self.transmits.push_back(ClientTransmit::Post {
                transport: id,
                url,
                body: encode_payload(&[Packet::Close]),
            });
        }
        self.transmits
            .push_back(ClientTransmit::Close { transport: id });
        self.transport.state = TransportState::Closed;
        self.state = ReadyState::Closed;
        self.upgrading = false;
        self.closing = None;
        self.sid = None;
        self.write_buffer.clear();
        self.events.push_back(ClientEvent::Closed(reason));
    }
}

/// Length of `packet` as `transport` writes it: a WebSocket frame's payload, or a segment of
/// a long-polling payload (binary as `b` and base64).
fn encoded_len(packet: &Packet, transport: TransportKind) -> usize {
    match packet {
        Packet::Message(message) => message_len(message, transport),
        packet => 1 + packet.data_len(),
    }
}

fn message_len(message: &Message, transport: TransportKind) -> usize {
    match (message, transport) {
        (Message::Binary(data), TransportKind::WebSocket) => data.len(),
        (Message::Binary(data), TransportKind::Polling) => 1 + data.len().div_ceil(3) * 4,
        (Message::Text(text), _) => 1 + text.len(),
    }
}

#[cfg(test)]
mod tests;
