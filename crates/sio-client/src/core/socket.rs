//! The state of one namespace's socket: connection, acknowledgements owed by the server,
//! the bounded offline buffer, the retry queue and the recovery offsets.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use engineio_proto::Timestamp;
use socketio_proto::{Args, Encoded, Value};

use crate::error::{AckError, EmitError};
use crate::options::{OfflineBuffer, WhenFull};

/// What the core needs of a socket's options.
#[derive(Clone, Debug, Default)]
pub(crate) struct SocketConfig {
    /// The `auth` payload, when it is a value.
    pub(crate) auth: Option<Value>,
    /// Whether the driver must ask a callback for the payload before each CONNECT.
    pub(crate) auth_callback: bool,
    pub(crate) retries: Option<u32>,
    pub(crate) ack_timeout: Option<Duration>,
    pub(crate) buffer: OfflineBuffer,
}

/// An acknowledgement the server owes.
#[derive(Debug)]
pub(crate) struct PendingAck<A> {
    /// Who waits for it; `None` for a packet of the retry queue (the waiter is there).
    pub(crate) waiter: Option<A>,
    pub(crate) deadline: Option<Timestamp>,
}

/// A packet kept until the socket connects.
#[derive(Debug)]
pub(crate) struct Buffered {
    pub(crate) encoded: Encoded,
    pub(crate) ack: Option<u64>,
}

/// A packet of the retry queue (`retries`): sent one at a time until acknowledged.
#[derive(Debug)]
pub(crate) struct Queued<A> {
    pub(crate) encoded: Encoded,
    /// Its ack id, the same for every try: a late answer to an earlier try acknowledges it
    /// as well as the answer to the last (the server has it either way).
    pub(crate) ack: u64,
    pub(crate) timeout: Option<Duration>,
    pub(crate) tries: u32,
    pub(crate) pending: bool,
    pub(crate) waiter: Option<A>,
}

/// An event received before the socket was connected.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) name: String,
    pub(crate) args: Args,
    pub(crate) ack: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct SocketCore<A> {
    pub(crate) nsp: String,
    pub(crate) config: SocketConfig,
    /// Subscribed to its manager (the official client's `active`): it connects when the
    /// manager opens and reconnects with it.
    pub(crate) active: bool,
    pub(crate) connected: bool,
    pub(crate) id: Option<String>,
    pub(crate) pid: Option<String>,
    pub(crate) last_offset: Option<String>,
    pub(crate) recovered: bool,
    pub(crate) notify_outgoing: bool,
    next_ack: u64,
    pub(crate) acks: HashMap<u64, PendingAck<A>>,
    pub(crate) send_buffer: VecDeque<Buffered>,
    pub(crate) queue: VecDeque<Queued<A>>,
    receive_buffer: VecDeque<Received>,
    /// Bytes in the receive buffer.
    received_bytes: usize,
    /// Bytes in the send buffer and the queue.
    buffered_bytes: usize,
}

impl<A> SocketCore<A> {
    pub(crate) fn new(nsp: String, config: SocketConfig) -> Self {
        SocketCore {
            nsp,
            config,
            active: false,
            connected: false,
            id: None,
            pid: None,
            last_offset: None,
            recovered: false,
            notify_outgoing: false,
            next_ack: 0,
            acks: HashMap::new(),
            send_buffer: VecDeque::new(),
            queue: VecDeque::new(),
            receive_buffer: VecDeque::new(),
            received_bytes: 0,
            buffered_bytes: 0,
        }
    }

    pub(crate) fn next_ack_id(&mut self) -> u64 {
        let id = self.next_ack;
        self.next_ack = self.next_ack.wrapping_add(1);
        id
    }

    /// The CONNECT payload: the auth object, with the last session's `pid` and `offset`
    /// first when there was one (the auth object's own keys win, as in the official
    /// client's `Object.assign`).
    pub(crate) fn connect_data(&self, auth: Option<Value>) -> Option<Value> {
        let Some(pid) = &self.pid else {
            return auth;
        };
        let mut data = socketio_proto::Map::new();
        data.insert("pid".to_owned(), Value::from(pid.as_str()));
        if let Some(offset) = &self.last_offset {
            data.insert("offset".to_owned(), Value::from(offset.as_str()));
        }
        if let Some(Value::Object(auth)) = auth {
            for (key, value) in auth {
                data.insert(key, value);
            }
        }
        Some(Value::Object(data))
    }

    /// Makes room for one more packet of `bytes` in the offline buffer and the queue, by
    /// the buffer's policy; the acknowledgements of packets dropped for it fail.
    pub(crate) fn make_room(
        &mut self,
        bytes: usize,
        failed: &mut Vec<(A, AckError)>,
    ) -> Result<(), EmitError> {
        let limits = self.config.buffer;
        let fits = |this: &Self| {
            this.send_buffer.len() + this.queue.len() < limits.max_packets
                && this.buffered_bytes + bytes <= limits.max_bytes
        };
        if fits(self) {
            return Ok(());
        }
        if limits.policy == WhenFull::RejectNew || bytes > limits.max_bytes {
            return Err(EmitError::BufferFull);
        }
        while !fits(self) {
            if let Some(dropped) = self.send_buffer.pop_front() {
                self.buffered_bytes -= dropped.encoded.byte_len();
                if let Some(id) = dropped.ack
                    && let Some(PendingAck {
                        waiter: Some(waiter),
                        ..
                    }) = self.acks.remove(&id)
                {
                    failed.push((waiter, AckError::Dropped));
                }
                continue;
            }
            // The queue's head may be on the wire: only packets behind it are dropped.
            if self.queue.len() > 1
                && let Some(dropped) = self.queue.remove(1)
            {
                self.buffered_bytes -= dropped.encoded.byte_len();
                self.acks.remove(&dropped.ack);
                if let Some(waiter) = dropped.waiter {
                    failed.push((waiter, AckError::Dropped));
                }
                continue;
            }
            return Err(EmitError::BufferFull);
        }
        Ok(())
    }

    /// Keeps an event that came before the socket was connected (the official server
    /// sends a recovered socket's missed packets before its CONNECT), within the buffer's
    /// bounds: the oldest go first.
    pub(crate) fn receive(&mut self, event: Received) {
        let limits = self.config.buffer;
        let bytes = event.args.byte_len();
        while !self.receive_buffer.is_empty()
            && (self.receive_buffer.len() >= limits.max_packets
                || self.received_bytes + bytes > limits.max_bytes)
        {
            if let Some(dropped) = self.receive_buffer.pop_front() {
                self.received_bytes -= dropped.args.byte_len();
                tracing::warn!(nsp = %self.nsp, "receive buffer full: oldest event dropped");
            }
        }
        if bytes > limits.max_bytes {
            tracing::warn!(nsp = %self.nsp, bytes, "event over the receive buffer's size dropped");
            return;
        }
        self.received_bytes += bytes;
        self.receive_buffer.push_back(event);
    }

    pub(crate) fn take_received(&mut self) -> VecDeque<Received> {
        self.received_bytes = 0;
        std::mem::take(&mut self.receive_buffer)
    }

    pub(crate) fn push_buffered(&mut self, packet: Buffered) {
        self.buffered_bytes += packet.encoded.byte_len();
        self.send_buffer.push_back(packet);
    }

    pub(crate) fn take_buffered(&mut self) -> VecDeque<Buffered> {
        for packet in &self.send_buffer {
            self.buffered_bytes -= packet.encoded.byte_len();
        }
        std::mem::take(&mut self.send_buffer)
    }

    /// Removes the buffered packet waiting for ack `id` (its wait ended).
    pub(crate) fn unbuffer(&mut self, id: u64) {
        if let Some(i) = self.send_buffer.iter().position(|p| p.ack == Some(id))
            && let Some(packet) = self.send_buffer.remove(i)
        {
            self.buffered_bytes -= packet.encoded.byte_len();
        }
    }

    pub(crate) fn push_queued(&mut self, packet: Queued<A>) {
        self.buffered_bytes += packet.encoded.byte_len();
        self.queue.push_back(packet);
    }

    pub(crate) fn pop_queued(&mut self) -> Option<Queued<A>> {
        let packet = self.queue.pop_front()?;
        self.buffered_bytes -= packet.encoded.byte_len();
        Some(packet)
    }

    pub(crate) fn is_buffered(&self, id: u64) -> bool {
        self.send_buffer.iter().any(|p| p.ack == Some(id))
    }
}
