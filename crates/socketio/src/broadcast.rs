//! Broadcasting: emitting to many sockets at once, encoded once, and operating on sets of
//! sockets (fetch, join, leave, disconnect).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_proto::{
    Args, DecoderLimits, EncodeError, Encoded, PacketKind, Parser, Value, is_reserved_event,
};
use tokio::sync::Notify;

use crate::adapter::{BroadcastMessage, RemoteAcks, Target};
use crate::delivery::{Recipients, Sequence};
use crate::error::{AckError, EmitError};
use crate::handshake::Handshake;
use crate::namespace::NamespaceInner;
use crate::rooms::IntoRooms;
use crate::socket::{AckWaiter, Socket, SocketId};

/// Decodes an encoded event or ack back into its arguments (for outgoing listeners and
/// cluster adapters, which are given arguments, not bytes).
pub(crate) fn args_of(parser: Parser, encoded: &Encoded) -> Option<Args> {
    let mut decoder = parser.decoder(DecoderLimits {
        max_attachments: usize::MAX,
        max_namespace_len: usize::MAX,
    });
    let mut packet = None;
    for message in encoded.messages() {
        packet = decoder.decode(message).ok()?;
    }
    match packet?.kind {
        PacketKind::Event { args, .. } | PacketKind::Ack { args, .. } => Some(args),
        _ => None,
    }
}

/// Typed arguments as [`Args`] (spread as for an emit).
pub(crate) fn args_from<T: Serialize + ?Sized>(
    parser: Parser,
    args: &T,
) -> Result<Args, EncodeError> {
    let encoded = parser.encode_ack("/", 0, args)?;
    args_of(parser, &encoded).ok_or_else(|| EncodeError::new("arguments did not decode"))
}

/// An acknowledgement's first argument as `R` (`null` if it has none), as Node resolves
/// `emitWithAck`.
pub(crate) fn first_arg<R: DeserializeOwned>(args: &Args) -> Result<R, AckError> {
    if args.is_empty() {
        return Value::Null
            .deserialize_into()
            .map_err(|error| AckError::Args(socketio_proto::ArgsError::from(error)));
    }
    args.get(0).map_err(AckError::Args)
}

/// Gathers the acknowledgements of a broadcast.
pub(crate) struct AckCollector {
    responses: Mutex<Vec<Args>>,
    changed: Notify,
}

impl AckCollector {
    fn new() -> Arc<Self> {
        Arc::new(AckCollector {
            responses: Mutex::new(Vec::new()),
            changed: Notify::new(),
        })
    }

    pub(crate) fn answer(&self, args: Args) {
        self.responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(args);
        self.changed.notify_one();
    }

    fn count(&self) -> usize {
        self.responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    fn get(&self, index: usize) -> Option<Args> {
        self.responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(index)
            .cloned()
    }

    fn take(&self) -> Vec<Args> {
        std::mem::take(&mut *self.responses.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A broadcast with acknowledgements did not get all of them.
#[derive(Debug)]
#[non_exhaustive]
pub enum BroadcastAckError<R> {
    /// The emit failed before anything was sent.
    Emit(EmitError),
    /// Not every socket answered in time; `responses` holds the answers that came.
    Timeout {
        /// The answers received, in arrival order.
        responses: Vec<R>,
        /// How many sockets the broadcast reached.
        expected: usize,
    },
    /// An answer did not deserialise into the requested type.
    Args(AckError),
}

impl<R> fmt::Display for BroadcastAckError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastAckError::Emit(error) => fmt::Display::fmt(error, f),
            BroadcastAckError::Timeout {
                responses,
                expected,
            } => write!(
                f,
                "operation has timed out: {} of {expected} acknowledgements",
                responses.len()
            ),
            BroadcastAckError::Args(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl<R: fmt::Debug> std::error::Error for BroadcastAckError<R> {}

/// Emits to a set of sockets of one namespace: built by [`Namespace::to`](crate::Namespace::to),
/// [`Socket::broadcast`] and the like, refined with [`to`](Self::to),
/// [`except`](Self::except), [`local`](Self::local), [`volatile`](Self::volatile),
/// [`timeout`](Self::timeout).
///
/// An emit serialises the packet once and hands the same buffers to every recipient.
#[derive(Clone)]
#[must_use]
pub struct BroadcastOperator {
    ns: Arc<NamespaceInner>,
    target: Target,
    local: bool,
    volatile: bool,
    timeout: Option<Duration>,
}

impl fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("namespace", &self.ns.name)
            .field("target", &self.target)
            .field("local", &self.local)
            .field("volatile", &self.volatile)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<NamespaceInner>) -> Self {
        BroadcastOperator {
            ns,
            target: Target::default(),
            local: false,
            volatile: false,
            timeout: None,
        }
    }

    /// Adds rooms to reach (their union).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        self.target.rooms.extend(rooms.into_rooms());
        self
    }

    /// Same as [`to`](Self::to) (Node's `in`).
    pub fn within(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Leaves out the sockets in these rooms.
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        self.target.except.extend(rooms.into_rooms());
        self
    }

    /// Reaches this server's sockets only.
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// Drops the packet for clients that cannot take it at once.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Accepted for compatibility with Node's API; compression is off.
    pub fn compress(self, _compress: bool) -> Self {
        self
    }

    /// Waits at most `timeout` for the acknowledgements of
    /// [`emit_with_ack`](Self::emit_with_ack).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    fn check(event: &str) -> Result<(), EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        Ok(())
    }

    /// Sends `encoded` to every local target; `args` gives the arguments to the outgoing
    /// listeners (decoded at most once, and only if someone listens).
    fn deliver(
        &self,
        event: &str,
        encoded: &Encoded,
        sequence: Sequence,
        args: &dyn Fn() -> Option<Args>,
    ) -> Result<usize, EmitError> {
        self.ns.deliver_event(
            Recipients::Local(&self.target),
            encoded,
            self.volatile,
            sequence,
            event,
            args,
        )
    }

    /// Whether this emit is the adapter's to deliver, in its log's order
    /// ([`Adapter::sequences_broadcasts`](crate::Adapter::sequences_broadcasts)); and the
    /// sequence of a local delivery otherwise.
    fn sequencing(&self) -> (bool, Sequence) {
        if self.ns.config.recovery.is_none() || !self.ns.sequences() {
            return (false, Sequence::Next);
        }
        // A local-only event of a sequencing adapter is not in the log: not replayable.
        (!self.local && !self.volatile, Sequence::Unstored)
    }

    /// Hands a replayable event to the adapter, which delivers it here too; if it cannot,
    /// delivers it here at once without an offset, and says so.
    fn hand_over(&self, event: &str, encoded: &Encoded, args: Args) -> Result<(), EmitError> {
        let message = self.cluster_message(event, args.clone());
        match self.ns.adapter().broadcast(&message) {
            Ok(()) => Ok(()),
            Err(error) => {
                tracing::warn!(%error, "event not sequenced by the cluster; delivered here only");
                self.deliver(event, encoded, Sequence::Unstored, &|| Some(args.clone()))?;
                Err(EmitError::Cluster(error))
            }
        }
    }

    /// The message that carries this broadcast to the other servers.
    fn cluster_message(&self, event: &str, args: Args) -> BroadcastMessage {
        BroadcastMessage {
            namespace: self.ns.name.clone(),
            event: event.to_owned(),
            args,
            target: self.target.clone(),
            volatile: self.volatile,
        }
    }

    fn forward(&self, event: &str, args: impl FnOnce() -> Option<Args>) -> Result<(), EmitError> {
        if self.local {
            return Ok(());
        }
        let adapter = self.ns.adapter();
        if !adapter.is_cluster() {
            return Ok(());
        }
        let Some(args) = args() else { return Ok(()) };
        let message = self.cluster_message(event, args);
        adapter.broadcast(&message).map_err(|error| {
            tracing::warn!(%error, "broadcast not forwarded to the cluster");
            EmitError::Cluster(error)
        })
    }

    /// Emits `event` to every targeted socket. `args` is spread into arguments as for
    /// [`Socket::emit`].
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        Self::check(event)?;
        let parser = self.ns.config.parser;
        let encoded = parser.encode_event(&self.ns.name, None, event, args)?;
        let (handed, sequence) = self.sequencing();
        if handed {
            let args = args_of(parser, &encoded).unwrap_or_default();
            return self.hand_over(event, &encoded, args);
        }
        self.deliver(event, &encoded, sequence, &|| args_of(parser, &encoded))?;
        self.forward(event, || args_of(parser, &encoded))
    }

    /// Emits `event` with arguments as received (a relay), without re-encoding them.
    pub fn emit_raw(&self, event: &str, args: &Args) -> Result<(), EmitError> {
        Self::check(event)?;
        let parser = self.ns.config.parser;
        let encoded = parser.encode_event_args(&self.ns.name, None, event, args)?;
        let (handed, sequence) = self.sequencing();
        if handed {
            return self.hand_over(event, &encoded, args.clone());
        }
        self.deliver(event, &encoded, sequence, &|| Some(args.clone()))?;
        self.forward(event, || Some(args.clone()))
    }

    /// For adapters that sequence broadcasts
    /// ([`Adapter::sequences_broadcasts`](crate::Adapter::sequences_broadcasts)): delivers
    /// `event` to this server's targeted sockets as the replayable packet at `offset` of
    /// the cluster's log (offsets must increase; a packet whose offset is not after the
    /// last one is delivered without one). Not forwarded. Returns how many sockets it was
    /// queued for.
    pub fn emit_raw_at(&self, offset: u64, event: &str, args: &Args) -> Result<usize, EmitError> {
        Self::check(event)?;
        let parser = self.ns.config.parser;
        let encoded = parser.encode_event_args(&self.ns.name, None, event, args)?;
        let sequence = if self.volatile {
            Sequence::Unstored
        } else {
            Sequence::At(offset)
        };
        self.deliver(event, &encoded, sequence, &|| Some(args.clone()))
    }

    /// Emits `event` and gathers one acknowledgement per socket reached, each answer's
    /// first argument as `R`. Waits for all of them, at most the timeout (the server's ack
    /// timeout unless [`timeout`](Self::timeout) was given); on timeout the error holds
    /// the answers that came.
    pub async fn emit_with_ack<R, T>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<Vec<R>, BroadcastAckError<R>>
    where
        R: DeserializeOwned,
        T: Serialize + ?Sized,
    {
        match self.emit_with_ack_raw(event, args).await {
            Ok(responses) => responses
                .iter()
                .map(first_arg)
                .collect::<Result<_, _>>()
                .map_err(BroadcastAckError::Args),
            Err(BroadcastAckError::Timeout {
                responses,
                expected,
            }) => Err(BroadcastAckError::Timeout {
                responses: responses.iter().filter_map(|r| first_arg(r).ok()).collect(),
                expected,
            }),
            Err(BroadcastAckError::Emit(error)) => Err(BroadcastAckError::Emit(error)),
            Err(BroadcastAckError::Args(error)) => Err(BroadcastAckError::Args(error)),
        }
    }

    /// Like [`emit_with_ack`](Self::emit_with_ack), with every answer's arguments, and the
    /// partial answers on timeout.
    pub async fn emit_with_ack_raw<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<Vec<Args>, BroadcastAckError<Args>> {
        Self::check(event).map_err(BroadcastAckError::Emit)?;
        let parser = self.ns.config.parser;
        let id = self.ns.next_ack_id();
        let encoded = parser
            .encode_event(&self.ns.name, Some(id), event, args)
            .map_err(|error| BroadcastAckError::Emit(error.into()))?;
        let collector = AckCollector::new();
        let waiting = self.send_waiting_acks(event, id, &encoded, &collector);
        let timeout = self.timeout.unwrap_or(self.ns.config.ack_timeout);
        let adapter = self.ns.adapter();
        let remote = async {
            if self.local || !adapter.is_cluster() {
                return RemoteAcks::default();
            }
            let Some(args) = args_of(parser, &encoded) else {
                return RemoteAcks::default();
            };
            let message = self.cluster_message(event, args);
            adapter
                .broadcast_with_ack(&message, id, timeout)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "broadcast not forwarded to the cluster");
                    RemoteAcks::default()
                })
        };
        let local = async {
            let expected = waiting.len();
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let changed = collector.changed.notified();
                if collector.count() >= expected {
                    return true;
                }
                if tokio::time::timeout_at(deadline, changed).await.is_err() {
                    return false;
                }
            }
        };
        let (remote, complete) = tokio::join!(remote, local);
        // Every entry is removed when the wait ends, so silent clients hold nothing.
        for socket in &waiting {
            socket.unregister_ack(id);
        }
        let expected = waiting.len() + remote.expected;
        let mut responses = collector.take();
        responses.extend(remote.responses);
        if complete && responses.len() >= expected {
            Ok(responses)
        } else {
            let missing = expected.saturating_sub(responses.len());
            self.ns.config.stats.at(0).ack_timeouts(missing);
            Err(BroadcastAckError::Timeout {
                responses,
                expected,
            })
        }
    }

    /// Sends an event that asks for an acknowledgement (id `id`) to every local target,
    /// each answer going to `collector`; returns the sockets that were sent it.
    fn send_waiting_acks(
        &self,
        event: &str,
        id: u64,
        encoded: &Encoded,
        collector: &Arc<AckCollector>,
    ) -> Vec<Socket> {
        let parser = self.ns.config.parser;
        let mut waiting = Vec::new();
        for socket in self.ns.local_sockets(&self.target) {
            if socket
                .register_ack(id, AckWaiter::Broadcast(collector.clone()))
                .is_err()
            {
                continue;
            }
            socket.notify_outgoing(event, &|| args_of(parser, encoded));
            if socket.send(encoded, self.volatile).is_ok() {
                waiting.push(socket);
            } else {
                socket.unregister_ack(id);
            }
        }
        waiting
    }

    /// Emits `event` (arguments as received) to **this server's** targeted sockets with
    /// an acknowledgement each, and hands the answers over one by one as they come: what
    /// a cluster adapter needs to answer another server's broadcast with acks (it reports
    /// [`AckStream::expected`] first, then each answer).
    pub fn emit_raw_with_local_acks(
        &self,
        event: &str,
        args: &Args,
    ) -> Result<AckStream, EmitError> {
        Self::check(event)?;
        let parser = self.ns.config.parser;
        let id = self.ns.next_ack_id();
        let encoded = parser.encode_event_args(&self.ns.name, Some(id), event, args)?;
        let collector = AckCollector::new();
        let waiting = self.send_waiting_acks(event, id, &encoded, &collector);
        let timeout = self.timeout.unwrap_or(self.ns.config.ack_timeout);
        Ok(AckStream {
            collector,
            waiting,
            id,
            read: 0,
            deadline: tokio::time::Instant::now() + timeout,
        })
    }

    /// The targeted sockets, with what can be done to them (emit, join, leave,
    /// disconnect, read data). If the other servers of a cluster cannot be asked, this
    /// server's sockets only, with a warning in the log: see
    /// [`try_fetch_sockets`](Self::try_fetch_sockets) to get the error instead.
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket> {
        match self.try_fetch_sockets().await {
            Ok(sockets) => sockets,
            Err((local, error)) => {
                tracing::warn!(%error, "sockets of the other servers not fetched");
                local
            }
        }
    }

    /// The targeted sockets of every server, or, when the other servers could not be
    /// asked (or did not all answer in time), this server's sockets and the error.
    pub async fn try_fetch_sockets(
        &self,
    ) -> Result<Vec<RemoteSocket>, (Vec<RemoteSocket>, crate::adapter::AdapterError)> {
        let mut sockets: Vec<RemoteSocket> = self
            .ns
            .local_sockets(&self.target)
            .into_iter()
            .map(RemoteSocket::local)
            .collect();
        let adapter = self.ns.adapter();
        if !self.local && adapter.is_cluster() {
            match adapter.fetch_sockets(&self.ns.name, &self.target).await {
                Ok(remote) => sockets.extend(remote.into_iter().filter_map(|data| {
                    Some(RemoteSocket {
                        id: SocketId::parse(&data.id)?,
                        rooms: data.rooms,
                        data: data.data,
                        local: None,
                        remote: Some(self.ns.clone()),
                    })
                })),
                Err(error) => return Err((sockets, error)),
            }
        }
        Ok(sockets)
    }

    /// Puts the targeted sockets in these rooms.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        for socket in self.ns.local_sockets(&self.target) {
            socket.join(rooms.clone());
        }
        if !self.local {
            self.ns
                .adapter()
                .add_sockets(&self.ns.name, &self.target, &rooms);
        }
    }

    /// Takes the targeted sockets out of these rooms.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        for socket in self.ns.local_sockets(&self.target) {
            for room in &rooms {
                socket.leave(room);
            }
        }
        if !self.local {
            self.ns
                .adapter()
                .del_sockets(&self.ns.name, &self.target, &rooms);
        }
    }

    /// Disconnects the targeted sockets; with `close`, closes their whole connections.
    pub fn disconnect_sockets(&self, close: bool) {
        for socket in self.ns.local_sockets(&self.target) {
            if close {
                socket.disconnect_connection();
            } else {
                socket.disconnect();
            }
        }
        if !self.local {
            self.ns
                .adapter()
                .disconnect_sockets(&self.ns.name, &self.target, close);
        }
    }
}

/// The acknowledgements of [`BroadcastOperator::emit_raw_with_local_acks`], in arrival
/// order. Dropping it stops the wait (late answers are ignored).
pub struct AckStream {
    collector: Arc<AckCollector>,
    waiting: Vec<Socket>,
    id: u64,
    read: usize,
    deadline: tokio::time::Instant,
}

impl fmt::Debug for AckStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckStream")
            .field("expected", &self.waiting.len())
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl AckStream {
    /// How many sockets were sent the event (as many answers may come).
    pub fn expected(&self) -> usize {
        self.waiting.len()
    }

    /// The next answer; `None` once every socket answered or the timeout passed.
    pub async fn next(&mut self) -> Option<Args> {
        loop {
            if self.read >= self.waiting.len() {
                return None;
            }
            let changed = self.collector.changed.notified();
            if let Some(args) = self.collector.get(self.read) {
                self.read += 1;
                return Some(args);
            }
            if tokio::time::timeout_at(self.deadline, changed)
                .await
                .is_err()
            {
                return None;
            }
        }
    }
}

impl Drop for AckStream {
    fn drop(&mut self) {
        for socket in &self.waiting {
            socket.unregister_ack(self.id);
        }
    }
}

/// A socket as [`fetch_sockets`](BroadcastOperator::fetch_sockets) returns it: its
/// description, and the operations that work wherever it is connected.
#[derive(Clone)]
pub struct RemoteSocket {
    id: SocketId,
    rooms: Vec<String>,
    data: Value,
    local: Option<Socket>,
    /// For a socket of another server: its namespace here, to reach it through the
    /// adapter (its id is a room).
    remote: Option<Arc<NamespaceInner>>,
}

impl fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSocket")
            .field("id", &self.id)
            .field("rooms", &self.rooms)
            .field("local", &self.local.is_some())
            .finish_non_exhaustive()
    }
}

impl RemoteSocket {
    fn local(socket: Socket) -> Self {
        RemoteSocket {
            id: socket.id(),
            rooms: socket.rooms(),
            data: socket.data_value(),
            local: Some(socket),
            remote: None,
        }
    }

    /// Operations on a socket of another server go through the adapter, to the room that
    /// is its id.
    fn operator(&self) -> Option<BroadcastOperator> {
        self.remote
            .as_ref()
            .map(|ns| BroadcastOperator::new(ns.clone()).to(self.id.as_str()))
    }

    /// The socket's id.
    pub fn id(&self) -> SocketId {
        self.id
    }

    /// The rooms it was in when fetched.
    pub fn rooms(&self) -> &[String] {
        &self.rooms
    }

    /// Its data when fetched, as `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        if self.data == Value::Null {
            return None;
        }
        self.data.clone().deserialize_into().ok()
    }

    /// Its handshake, for a socket of this server.
    pub fn handshake(&self) -> Option<&Handshake> {
        self.local.as_ref().map(Socket::handshake)
    }

    /// The socket itself, if it is on this server.
    pub fn as_local(&self) -> Option<&Socket> {
        self.local.as_ref()
    }

    /// Emits to it.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        match (&self.local, self.operator()) {
            (Some(socket), _) => socket.emit(event, args),
            (None, Some(operator)) => operator.emit(event, args),
            (None, None) => Err(EmitError::Disconnected),
        }
    }

    /// Puts it in rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        match (&self.local, self.operator()) {
            (Some(socket), _) => socket.join(rooms),
            (None, Some(operator)) => operator.sockets_join(rooms),
            (None, None) => {}
        }
    }

    /// Takes it out of a room.
    pub fn leave(&self, room: &str) {
        match (&self.local, self.operator()) {
            (Some(socket), _) => socket.leave(room),
            (None, Some(operator)) => operator.sockets_leave(room),
            (None, None) => {}
        }
    }

    /// Disconnects it; with `close`, closes its whole connection.
    pub fn disconnect(&self, close: bool) {
        match (&self.local, self.operator()) {
            (Some(socket), _) if close => socket.disconnect_connection(),
            (Some(socket), _) => socket.disconnect(),
            (None, Some(operator)) => operator.disconnect_sockets(close),
            (None, None) => {}
        }
    }
}
