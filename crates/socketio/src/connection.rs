//! One client connection: it receives the Engine.IO session's messages (on the session's
//! own task), decodes them and routes each packet to the socket of its namespace.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use engineio::{BatchError, EngineSocket, Message, SocketHandler, TrySendError};
use socketio_proto::{Decoder, Encoded, Map, Packet, PacketKind, Value};

use crate::config::SlowConsumerPolicy;
use crate::error::{DisconnectReason, EmitError};
use crate::recovery::{FetchedSession, RestoreFailure};
use crate::server::ServerInner;
use crate::socket::Socket;
use crate::stats::{Counter, Counters};

/// What the sockets of one connection share: the Engine.IO session.
pub(crate) struct ConnShared {
    pub(crate) engine: EngineSocket,
    stats: Arc<Counters>,
    shard: usize,
    slow_consumer: SlowConsumerPolicy,
    /// Why the server is closing the connection, if it is.
    close_reason: Mutex<Option<DisconnectReason>>,
    /// A namespace has been joined (the connect timeout no longer applies).
    joined: AtomicBool,
    connect_timer: Mutex<Option<tokio::task::AbortHandle>>,
    /// The connection's sockets, by namespace (a connection joins few). Read by the
    /// connection's task for each packet; written on joins and leaves.
    sockets: Mutex<Vec<(String, Socket)>>,
    /// The connection closed: its sockets have left.
    gone: AtomicBool,
}

impl ConnShared {
    /// Queues a packet (and its attachments, together) for the client.
    pub(crate) fn counter(&self) -> Counter<'_> {
        self.stats.at(self.shard)
    }

    pub(crate) fn send(&self, encoded: &Encoded, volatile: bool) -> Result<(), EmitError> {
        self.send_cow(Cow::Borrowed(encoded), volatile, true)
    }

    /// Like [`send`](Self::send); a packet given by value is moved to the session, not
    /// cloned. Unless `write`, the packet is left to the session's task even when the
    /// session is idle (see `EngineSocket::try_enqueue`).
    pub(crate) fn send_cow(
        &self,
        encoded: Cow<'_, Encoded>,
        volatile: bool,
        write: bool,
    ) -> Result<(), EmitError> {
        if volatile && !self.engine.is_writable() {
            self.counter().volatile_dropped();
            return Ok(());
        }
        let full = if encoded.attachments().is_empty() {
            let len = encoded.byte_len();
            let first = match encoded {
                Cow::Borrowed(encoded) => encoded.first().clone(),
                Cow::Owned(encoded) => encoded.into_first(),
            };
            let sent = if write {
                self.engine.try_send(first)
            } else {
                self.engine.try_enqueue(first)
            };
            match sent {
                Ok(()) => {
                    self.counter().packet_out(len);
                    return Ok(());
                }
                Err(TrySendError::Closed(_)) => return Err(EmitError::Disconnected),
                Err(TrySendError::Full(_)) => true,
            }
        } else {
            let messages: Vec<Message> = encoded.messages().collect();
            let sent = if write {
                self.engine.try_send_all(&messages)
            } else {
                self.engine.try_enqueue_all(&messages)
            };
            match sent {
                Ok(()) => {
                    self.counter().packet_out(encoded.byte_len());
                    return Ok(());
                }
                Err(BatchError::Closed) => return Err(EmitError::Disconnected),
                Err(BatchError::Full) => true,
            }
        };
        debug_assert!(full);
        self.counter().buffer_full();
        if self.slow_consumer == SlowConsumerPolicy::Disconnect {
            tracing::debug!("closing a connection whose client reads too slowly");
            self.close(DisconnectReason::BufferFull);
        }
        Err(EmitError::BufferFull)
    }

    /// Queues a packet, waiting for room in the buffer. Fails if the connection closed.
    pub(crate) async fn send_waiting(&self, encoded: &Encoded) -> Result<(), EmitError> {
        let sent = if encoded.attachments().is_empty() {
            self.engine.send(encoded.first().clone()).await.is_ok()
        } else {
            let messages: Vec<Message> = encoded.messages().collect();
            self.engine.send_all(&messages).await.is_ok()
        };
        if sent {
            self.counter().packet_out(encoded.byte_len());
            Ok(())
        } else {
            Err(EmitError::Disconnected)
        }
    }

    /// Closes the connection, remembering why (the first reason wins).
    pub(crate) fn close(&self, reason: DisconnectReason) {
        self.close_reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(reason);
        self.engine.close();
    }

    pub(crate) fn mark_joined(&self) {
        self.joined.store(true, Ordering::Release);
        if let Some(timer) = self
            .connect_timer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            timer.abort();
        }
    }

    fn sockets(&self) -> std::sync::MutexGuard<'_, Vec<(String, Socket)>> {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection's sockets, taken as it closes: a socket admitted later leaves at
    /// once.
    fn take_sockets(&self) -> Vec<(String, Socket)> {
        let mut sockets = self.sockets();
        self.gone.store(true, Ordering::Release);
        std::mem::take(&mut *sockets)
    }

    /// Node's `socket.disconnect(true)`: every socket of the connection leaves its
    /// namespace (the client hears `io server disconnect`), then the connection closes.
    pub(crate) fn disconnect_all(&self) {
        let sockets: Vec<Socket> = self.sockets().iter().map(|(_, s)| s.clone()).collect();
        for socket in sockets {
            socket.disconnect();
        }
        self.close(DisconnectReason::ForcedServerClose);
    }

    fn take_close_reason(&self) -> Option<DisconnectReason> {
        self.close_reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

pub(crate) struct Connection {
    server: Arc<ServerInner>,
    shared: Arc<ConnShared>,
    decoder: Decoder,
}

impl Connection {
    pub(crate) fn new(server: Arc<ServerInner>, engine: EngineSocket) -> Self {
        let config = &server.config;
        let shared = Arc::new(ConnShared {
            engine,
            shard: config.stats.shard(),
            stats: config.stats.clone(),
            slow_consumer: config.slow_consumer,
            close_reason: Mutex::new(None),
            joined: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            connect_timer: Mutex::new(None),
            sockets: Mutex::new(Vec::new()),
        });
        let timeout = config.connect_timeout;
        let weak = Arc::downgrade(&shared);
        let timer = tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if let Some(shared) = weak.upgrade()
                && !shared.joined.load(Ordering::Acquire)
            {
                tracing::debug!("no namespace joined within the connect timeout");
                shared.close(DisconnectReason::ForcedServerClose);
            }
        });
        *shared
            .connect_timer
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(timer.abort_handle());
        Connection {
            decoder: config.parser.decoder(config.limits),
            server,
            shared,
        }
    }

    fn socket_of(&self, nsp: &str) -> Option<Socket> {
        self.shared
            .sockets()
            .iter()
            .find(|(name, _)| name == nsp)
            .map(|(_, socket)| socket.clone())
    }

    fn route(&mut self, packet: Packet) {
        let socket = self.socket_of(&packet.nsp);
        match packet.kind {
            PacketKind::Connect { auth } => {
                if let Some(socket) = socket {
                    if !socket.is_gone() {
                        // A second join of the same namespace (Node closes too).
                        return self.shared.close(DisconnectReason::ForcedServerClose);
                    }
                    self.shared.sockets().retain(|(_, s)| *s != socket);
                }
                self.connect(packet.nsp.into_owned(), auth);
            }
            PacketKind::Disconnect => {
                if let Some(socket) = socket {
                    self.shared.sockets().retain(|(_, s)| *s != socket);
                    socket.leave_namespace(DisconnectReason::ClientNamespaceDisconnect);
                }
            }
            PacketKind::Event { name, args, ack } => match socket {
                // A gone socket: sent before the client heard that the server disconnected it.
                Some(socket) if socket.is_gone() => {}
                Some(socket) => {
                    if socket.receive_event(name, args, ack).is_err() {
                        tracing::debug!("a client sent events faster than its handlers ran");
                        self.shared.close(DisconnectReason::ForcedServerClose);
                    }
                }
                None => self.shared.close(DisconnectReason::ParseError),
            },
            PacketKind::Ack { id, args } => match socket {
                Some(socket) => socket.receive_ack(id, args),
                None => self.shared.close(DisconnectReason::ParseError),
            },
            // Only servers send these.
            PacketKind::ConnectError { .. } => self.shared.close(DisconnectReason::ParseError),
        }
    }

    fn connect(&mut self, nsp: String, auth: Option<Value>) {
        let parser = self.server.config.parser;
        let auth = auth.unwrap_or_else(|| Value::Object(Map::new()));
        let Some(namespace) = self.server.namespace_for(&nsp, &auth) else {
            let refusal = parser.encode_connect_error(&nsp, "Invalid namespace", None);
            let _ = self.shared.send(&refusal, false);
            return;
        };
        match namespace.0.prefetch(&auth) {
            // The session is in the cluster's shared storage: fetched first, then admitted.
            Some(fetch) => {
                let shared = self.shared.clone();
                tokio::spawn(async move {
                    let fetched = fetch.await;
                    Self::enter(&shared, nsp, &namespace, auth, fetched);
                });
            }
            None => Self::enter(&self.shared, nsp, &namespace, auth, None),
        }
    }

    fn enter(
        shared: &Arc<ConnShared>,
        nsp: String,
        namespace: &crate::Namespace,
        auth: Value,
        fetched: Option<Result<FetchedSession, RestoreFailure>>,
    ) {
        let socket = namespace.0.admit(shared.clone(), auth, fetched);
        {
            let mut sockets = shared.sockets();
            if shared.gone.load(Ordering::Acquire) {
                // The connection closed while its session was fetched.
                drop(sockets);
                socket.leave_namespace(DisconnectReason::TransportClose);
                return;
            }
            if sockets.capacity() == 0 {
                // Most connections join one namespace: no room for three more.
                sockets.reserve_exact(1);
            }
            sockets.push((nsp, socket.clone()));
        }
        let joining = socket.clone();
        if socket.submit(Box::pin(joining.join_namespace())).is_err() {
            shared.close(DisconnectReason::ForcedServerClose);
        }
    }
}

impl SocketHandler for Connection {
    fn on_message(&mut self, message: Message) {
        self.shared.counter().bytes_in(message.len());
        match self.decoder.decode(message) {
            Ok(Some(packet)) => {
                self.shared.counter().packet_in();
                self.route(packet);
            }
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(%error, "invalid Socket.IO packet");
                self.shared.close(DisconnectReason::ParseError);
            }
        }
    }

    fn on_close(&mut self, reason: engineio::CloseReason) {
        let reason = if self.server.is_closing() {
            DisconnectReason::ServerShuttingDown
        } else {
            self.shared
                .take_close_reason()
                .unwrap_or_else(|| DisconnectReason::from_engine(reason))
        };
        if let Some(timer) = self
            .shared
            .connect_timer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            timer.abort();
        }
        let sockets = self.shared.take_sockets();
        for (_, socket) in sockets {
            socket.leave_namespace(reason);
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The session's task ended without a close (a panic or a runtime shutdown): the
        // sockets must still leave their namespaces.
        let sockets = self.shared.take_sockets();
        for (_, socket) in sockets {
            socket.leave_namespace(DisconnectReason::TransportClose);
        }
    }
}
