//! Emits and acknowledgements: the offline buffer, ack deadlines, the retry queue, and
//! writing packets on the engine.

use std::cmp::Reverse;
use std::time::Duration;

use engineio_proto::Timestamp;
use engineio_proto::client::{ClientSession, SendError};
use socketio_proto::{Args, EncodeError, Encoded, PacketKind, is_reserved_event};

use super::socket::{Buffered, PendingAck, Queued};
use super::{EmitFlags, Emitted, Encode, ManagerCore, SocketKey, SocketOutput, client_limits};
use crate::error::{AckError, EmitError};

impl<A> ManagerCore<A> {
    /// Emits an event. `encode` builds the packet for the namespace and ack id it is
    /// given. With a waiter, the server is asked for an acknowledgement.
    pub(crate) fn emit(
        &mut self,
        now: Timestamp,
        key: SocketKey,
        name: &str,
        flags: EmitFlags,
        waiter: Option<A>,
        encode: Encode<'_>,
    ) -> Result<Emitted, EmitError> {
        if is_reserved_event(name) {
            return Err(EmitError::ReservedName(name.to_owned()));
        }
        self.engine_tick(now);
        let parser = self.parser;
        let socket = &mut self.sockets[key];
        if socket.config.retries.is_some() && !flags.volatile {
            let id = socket.next_ack_id();
            let encoded = encode(parser, &socket.nsp, Some(id))?;
            self.check_size(&encoded)?;
            let socket = &mut self.sockets[key];
            let mut failed = Vec::new();
            let room = socket.make_room(encoded.byte_len(), &mut failed);
            self.fail_waiters(key, failed);
            room?;
            self.sockets[key].push_queued(Queued {
                encoded,
                ack: id,
                timeout: flags.timeout,
                tries: 0,
                pending: false,
                waiter,
            });
            let was_idle = self.sockets[key].queue.len() == 1;
            self.drain_queue(now, key, false);
            let sent = was_idle && self.sockets[key].connected;
            return Ok(if sent {
                Emitted::Sent
            } else {
                Emitted::Buffered
            });
        }
        let id = waiter.is_some().then(|| socket.next_ack_id());
        let encoded = encode(parser, &socket.nsp, id)?;
        let writable = self.engine.as_ref().is_some_and(ClientSession::is_writable);
        let socket = &self.sockets[key];
        if flags.volatile && !(socket.connected && writable) {
            if let Some(waiter) = waiter {
                self.socket_output(
                    key,
                    SocketOutput::Ack {
                        waiter,
                        result: Err(AckError::Dropped),
                    },
                );
            }
            return Ok(Emitted::Dropped);
        }
        if socket.connected {
            self.send_packet(now, key, &encoded)?;
            if let (Some(id), Some(waiter)) = (id, waiter) {
                self.register_ack(now, key, id, waiter, flags.timeout);
            }
            return Ok(Emitted::Sent);
        }
        let mut failed = Vec::new();
        let room = self.sockets[key].make_room(encoded.byte_len(), &mut failed);
        self.fail_waiters(key, failed);
        room?;
        self.sockets[key].push_buffered(Buffered { encoded, ack: id });
        if let (Some(id), Some(waiter)) = (id, waiter) {
            self.register_ack(now, key, id, waiter, flags.timeout);
        }
        Ok(Emitted::Buffered)
    }

    pub(super) fn fail_waiters(&mut self, key: SocketKey, failed: Vec<(A, AckError)>) {
        for (waiter, error) in failed {
            self.socket_output(
                key,
                SocketOutput::Ack {
                    waiter,
                    result: Err(error),
                },
            );
        }
    }

    pub(super) fn register_ack(
        &mut self,
        now: Timestamp,
        key: SocketKey,
        id: u64,
        waiter: A,
        timeout: Option<Duration>,
    ) {
        let socket = &mut self.sockets[key];
        let deadline = timeout.or(socket.config.ack_timeout).map(|t| now + t);
        socket.acks.insert(
            id,
            PendingAck {
                waiter: Some(waiter),
                deadline,
            },
        );
        if let Some(at) = deadline {
            self.ack_deadlines.push(Reverse((at, key, id)));
        }
    }

    /// Ends the wait for ack `id` with `result`: to its waiter, or to the retry queue
    /// when it is the queue's head. Whether anybody was waiting.
    pub(super) fn resolve_ack(
        &mut self,
        now: Timestamp,
        key: SocketKey,
        id: u64,
        result: Result<Args, AckError>,
    ) -> bool {
        match self.sockets[key].acks.remove(&id) {
            Some(PendingAck {
                waiter: Some(waiter),
                ..
            }) => self.socket_output(key, SocketOutput::Ack { waiter, result }),
            Some(_) => self.queue_answer(now, key, id, result),
            None => return false,
        }
        true
    }

    /// Sends the head of the retry queue unless it is out already (or `force`: the
    /// socket has just connected, and the last try may have been lost).
    pub(super) fn drain_queue(&mut self, now: Timestamp, key: SocketKey, force: bool) {
        // A loop, not a recursion: a run of packets that cannot be sent is dropped in turn.
        let mut force = force;
        loop {
            let socket = &mut self.sockets[key];
            if !socket.connected {
                return;
            }
            let ack_timeout = socket.config.ack_timeout;
            let Some(head) = socket.queue.front_mut() else {
                return;
            };
            if head.pending && !force {
                return;
            }
            head.pending = true;
            head.tries += 1;
            let (id, timeout, encoded) = (head.ack, head.timeout, head.encoded.clone());
            let deadline = timeout.or(ack_timeout).map(|t| now + t);
            socket.acks.insert(
                id,
                PendingAck {
                    waiter: None,
                    deadline,
                },
            );
            if let Some(at) = deadline {
                self.ack_deadlines.push(Reverse((at, key, id)));
            }
            let Err(error) = self.send_packet(now, key, &encoded) else {
                return;
            };
            tracing::warn!(%error, "a queued packet cannot be sent: dropped");
            self.sockets[key].acks.remove(&id);
            if let Some(packet) = self.sockets[key].pop_queued()
                && let Some(waiter) = packet.waiter
            {
                self.socket_output(
                    key,
                    SocketOutput::Ack {
                        waiter,
                        result: Err(AckError::Dropped),
                    },
                );
            }
            force = false;
        }
    }

    /// The answer (or the failure) of a try of the queue's head.
    pub(super) fn queue_answer(
        &mut self,
        now: Timestamp,
        key: SocketKey,
        id: u64,
        result: Result<Args, AckError>,
    ) {
        let socket = &mut self.sockets[key];
        let retries = socket.config.retries.unwrap_or(0);
        let Some(head) = socket.queue.front_mut() else {
            return;
        };
        if head.ack != id {
            return;
        }
        let done = match &result {
            Ok(_) => true,
            Err(_) => head.tries > retries,
        };
        head.pending = false;
        if done {
            socket.acks.remove(&id);
            if let Some(packet) = socket.pop_queued()
                && let Some(waiter) = packet.waiter
            {
                self.socket_output(key, SocketOutput::Ack { waiter, result });
            }
        }
        self.drain_queue(now, key, false);
    }

    /// Answers the server's event `id`.
    /// Answers the server's event, in the session (`session`) it came in: after a
    /// reconnection the id would name another event.
    pub(crate) fn send_ack(
        &mut self,
        now: Timestamp,
        key: SocketKey,
        session: u64,
        encoded: Result<Encoded, EncodeError>,
    ) -> Result<(), EmitError> {
        let encoded = encoded?;
        if !self.sockets[key].connected || session != self.session() {
            return Err(EmitError::Closed);
        }
        self.write(now, &encoded)
    }

    /// Sends a packet of a connected socket, telling outgoing listeners.
    pub(super) fn send_packet(
        &mut self,
        now: Timestamp,
        key: SocketKey,
        encoded: &Encoded,
    ) -> Result<(), EmitError> {
        self.write(now, encoded)?;
        if self.sockets[key].notify_outgoing
            && let Some((name, args)) = self.decode_own(encoded)
        {
            self.socket_output(key, SocketOutput::Outgoing { name, args });
        }
        Ok(())
    }

    /// Refuses a packet the open session's server would not take (over its `maxPayload`).
    fn check_size(&self, encoded: &Encoded) -> Result<(), EmitError> {
        let Some(engine) = self.engine.as_ref().filter(|e| e.is_open()) else {
            return Ok(());
        };
        for message in encoded.messages() {
            if let Err(SendError::TooLarge { len, max }) = engine.check(&message) {
                return Err(EmitError::TooLarge { len, max });
            }
        }
        Ok(())
    }

    /// Writes a packet (all its messages, or none of them) on the engine.
    pub(super) fn write(&mut self, now: Timestamp, encoded: &Encoded) -> Result<(), EmitError> {
        let Some(engine) = &mut self.engine else {
            return Err(EmitError::Closed);
        };
        for message in encoded.messages() {
            engine.check(&message).map_err(|error| match error {
                SendError::Closed => EmitError::Closed,
                SendError::TooLarge { len, max } => EmitError::TooLarge { len, max },
            })?;
        }
        for message in encoded.messages() {
            let _ = engine.send(message);
        }
        self.pump(now);
        Ok(())
    }

    /// The name and arguments of an event this client encoded.
    pub(super) fn decode_own(&self, encoded: &Encoded) -> Option<(String, Args)> {
        let mut decoder = self.parser.decoder(client_limits());
        let mut packet = None;
        for message in encoded.messages() {
            packet = decoder.decode(message).ok()?;
        }
        match packet?.kind {
            PacketKind::Event { name, args, .. } => Some((name, args)),
            _ => None,
        }
    }
}
