//! The manager's sockets, one per namespace: joining (CONNECT, auth, recovery), what the
//! server sends them, leaving.

use engineio_proto::Timestamp;
use socketio_proto::{Args, PacketKind, Value};

use super::socket::{Received, SocketConfig, SocketCore};
use super::{ManagerCore, Output, ReadyState, SocketKey, SocketOutput};
use crate::error::AckError;
use crate::event::{ConnectError, DisconnectReason};

impl<A> ManagerCore<A> {
    pub(crate) fn add_socket(&mut self, nsp: String, config: SocketConfig) -> SocketKey {
        self.sockets.push(SocketCore::new(nsp, config));
        self.sockets.len() - 1
    }

    pub(crate) fn set_notify_outgoing(&mut self, key: SocketKey, on: bool) {
        self.sockets[key].notify_outgoing = on;
    }

    pub(super) fn socket_output(&mut self, key: SocketKey, output: SocketOutput<A>) {
        self.outputs.push_back(Output::Socket(key, output));
    }

    /// `socket.connect()`.
    pub(crate) fn socket_connect(&mut self, now: Timestamp, key: SocketKey) {
        if self.sockets[key].connected {
            return;
        }
        self.sockets[key].active = true;
        if !self.reconnecting {
            self.open(now);
        }
        if self.state == ReadyState::Open {
            self.socket_on_open(now, key);
        }
    }

    pub(super) fn socket_on_open(&mut self, now: Timestamp, key: SocketKey) {
        if self.sockets[key].config.auth_callback {
            let session = self.session();
            self.socket_output(key, SocketOutput::NeedAuth { session });
        } else {
            let auth = self.sockets[key].config.auth.clone();
            self.send_connect(now, key, self.session(), auth);
        }
    }

    /// Sends the CONNECT packet with this auth payload, if `session` (the one it was asked
    /// for) is still the current one: a slow auth callback must not join twice.
    pub(crate) fn send_connect(
        &mut self,
        now: Timestamp,
        key: SocketKey,
        session: u64,
        auth: Option<Value>,
    ) {
        let socket = &self.sockets[key];
        if !socket.active
            || socket.connected
            || self.state != ReadyState::Open
            || session != self.session()
        {
            return;
        }
        let data = socket.connect_data(auth);
        let encoded = self.parser.encode_connect_data(&socket.nsp, data.as_ref());
        let _ = self.write(now, &encoded);
    }

    /// `socket.disconnect()`.
    pub(crate) fn socket_disconnect(&mut self, now: Timestamp, key: SocketKey) {
        let connected = self.sockets[key].connected;
        if connected {
            let encoded = self.parser.encode_disconnect(&self.sockets[key].nsp);
            let _ = self.write(now, &encoded);
        }
        self.sockets[key].active = false;
        self.on_socket_destroyed(now);
        if connected {
            self.socket_on_close(now, key, DisconnectReason::IoClientDisconnect);
        }
    }

    pub(super) fn socket_on_close(
        &mut self,
        now: Timestamp,
        key: SocketKey,
        reason: DisconnectReason,
    ) {
        let socket = &mut self.sockets[key];
        socket.connected = false;
        socket.id = None;
        self.socket_output(key, SocketOutput::Disconnect(reason));
        // Acknowledgements of packets still buffered survive: they are sent on reconnect.
        let socket = &mut self.sockets[key];
        let gone: Vec<u64> = socket
            .acks
            .keys()
            .copied()
            .filter(|&id| !socket.is_buffered(id))
            .collect();
        for id in gone {
            // The queue's head: a try lost with the connection counts when the try had a
            // timeout; without one it is simply sent again on reconnection, as the
            // official client does.
            let socket = &mut self.sockets[key];
            let queued_without_timeout = socket
                .acks
                .get(&id)
                .is_some_and(|ack| ack.waiter.is_none() && ack.deadline.is_none());
            if queued_without_timeout {
                socket.acks.remove(&id);
                if let Some(head) = socket.queue.front_mut() {
                    head.pending = false;
                }
                continue;
            }
            self.resolve_ack(now, key, id, Err(AckError::Disconnected));
        }
    }

    pub(super) fn on_packet(&mut self, now: Timestamp, packet: socketio_proto::Packet) {
        let Some(key) = self
            .sockets
            .iter()
            .position(|s| s.active && s.nsp == packet.nsp)
        else {
            return;
        };
        match packet.kind {
            PacketKind::Connect { auth: data } => {
                let sid = data
                    .as_ref()
                    .and_then(|d| d.get("sid"))
                    .and_then(Value::as_str);
                match sid {
                    Some(sid) => {
                        let pid = data
                            .as_ref()
                            .and_then(|d| d.get("pid"))
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        self.socket_on_connect(now, key, sid.to_owned(), pid);
                    }
                    None => self.socket_output(
                        key,
                        SocketOutput::ConnectError(ConnectError {
                            message: "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, but they are not compatible (more information here: https://socket.io/docs/v3/migrating-from-2-x-to-3-0/)".to_owned(),
                            data: None,
                            description: None,
                        }),
                    ),
                }
            }
            PacketKind::ConnectError { data } => {
                let message = match &data {
                    Value::String(message) => message.clone(),
                    data => data
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                };
                let data = data.get("data").cloned();
                let connected = self.sockets[key].connected;
                self.sockets[key].active = false;
                self.on_socket_destroyed(now);
                if connected {
                    // A refusal for a socket already in (a server's mistake): it is out.
                    self.socket_on_close(now, key, DisconnectReason::IoServerDisconnect);
                }
                self.socket_output(
                    key,
                    SocketOutput::ConnectError(ConnectError {
                        message,
                        data,
                        description: None,
                    }),
                );
            }
            PacketKind::Event { name, args, ack } => {
                let socket = &mut self.sockets[key];
                if socket.connected {
                    self.socket_event(key, name, args, ack);
                } else {
                    socket.receive(Received { name, args, ack });
                }
            }
            PacketKind::Ack { id, args } => {
                let socket = &self.sockets[key];
                if socket.acks.contains_key(&id) {
                    self.resolve_ack(now, key, id, Ok(args));
                } else if socket.queue.front().is_some_and(|q| q.ack == id) {
                    // An answer to a try of a queued packet that timed out still counts.
                    self.queue_answer(now, key, id, Ok(args));
                } else {
                    tracing::debug!(id, "acknowledgement nobody waits for");
                }
            }
            PacketKind::Disconnect => {
                self.sockets[key].active = false;
                self.on_socket_destroyed(now);
                self.socket_on_close(now, key, DisconnectReason::IoServerDisconnect);
            }
        }
    }

    pub(super) fn socket_event(
        &mut self,
        key: SocketKey,
        name: String,
        args: Args,
        ack: Option<u64>,
    ) {
        let ack = ack.map(|id| (id, self.session()));
        let socket = &mut self.sockets[key];
        if socket.pid.is_some()
            && let Some(offset) = args.last_str()
        {
            socket.last_offset = Some(offset);
        }
        self.socket_output(key, SocketOutput::Event { name, args, ack });
    }

    pub(super) fn socket_on_connect(
        &mut self,
        now: Timestamp,
        key: SocketKey,
        sid: String,
        pid: Option<String>,
    ) {
        let socket = &mut self.sockets[key];
        socket.id = Some(sid);
        socket.recovered = pid.is_some() && socket.pid == pid;
        socket.pid = pid;
        socket.connected = true;
        for event in socket.take_received() {
            self.socket_event(key, event.name, event.args, event.ack);
        }
        let buffered = self.sockets[key].take_buffered();
        for packet in buffered {
            if let Err(error) = self.send_packet(now, key, &packet.encoded) {
                tracing::warn!(%error, "a buffered packet cannot be sent: dropped");
                if let Some(id) = packet.ack {
                    self.resolve_ack(now, key, id, Err(AckError::Dropped));
                }
            }
        }
        self.drain_queue(now, key, true);
        self.socket_output(key, SocketOutput::Connect);
    }
}
