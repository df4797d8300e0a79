//! A socket: one namespace of a manager's connection. Emits, acknowledgements, listeners.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_channel::oneshot;
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_proto::{Args, ArgsError, EncodeError, Encoded, Parser};

use crate::core::{EmitFlags, Emitted};
use crate::error::{AckError, EmitError};
use crate::event::{ConnectError, DisconnectReason};
use crate::listeners::{Entry, ListenerId};
use crate::platform::{MaybeSend, MaybeSync};
use crate::shared::{AckSender, Event, EventFn, Manager, Socket, SocketListeners, Waiter, lock};

impl Socket {
    fn with_core<R>(
        &self,
        f: impl FnOnce(
            &mut crate::core::ManagerCore<Waiter>,
            crate::core::SocketKey,
            engineio_proto::Timestamp,
        ) -> R,
    ) -> R {
        let key = self.socket.key;
        self.token.shared.with_core(|core, now| f(core, key, now))
    }

    fn read<R>(&self, f: impl FnOnce(&crate::core::socket::SocketCore<Waiter>) -> R) -> R {
        f(lock(&self.token.shared.core).socket(self.socket.key))
    }

    /// The namespace.
    pub fn nsp(&self) -> &str {
        &self.socket.nsp
    }

    /// The socket's id on the server, while it is connected.
    pub fn id(&self) -> Option<String> {
        self.read(|s| s.id.clone())
    }

    /// Whether the socket is connected.
    pub fn connected(&self) -> bool {
        self.read(|s| s.connected)
    }

    /// Whether the socket connects and reconnects with its manager (until it is
    /// disconnected by the client, by the server, or refused).
    pub fn active(&self) -> bool {
        self.read(|s| s.active)
    }

    /// Whether the last connection recovered the previous session (connection state
    /// recovery: same id, rooms, and the packets missed meanwhile).
    pub fn recovered(&self) -> bool {
        self.read(|s| s.recovered)
    }

    /// The manager whose connection the socket uses.
    pub fn manager(&self) -> Manager {
        Manager {
            token: self.token.clone(),
        }
    }

    /// Connects the socket (also after a disconnect).
    pub fn connect(&self) {
        self.with_core(|core, key, now| core.socket_connect(now, key));
    }

    /// Disconnects the socket; its manager closes when no other socket uses it.
    pub fn disconnect(&self) {
        self.with_core(|core, key, now| core.socket_disconnect(now, key));
    }

    /// Emits `event` with `args`: a tuple is one argument per element, `()` none, any
    /// other value one argument. `bytes::Bytes` (anything serialised as bytes) is sent as
    /// binary, at any depth. Sent at once when connected, else kept in the offline buffer.
    ///
    /// The arguments are serialised while the connection's state is locked (that is how
    /// the packet gets its place and its ack id): a `Serialize` implementation must not
    /// call this client.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<Emitted, EmitError> {
        self.emitter().emit(event, args)
    }

    /// Emits `event` and waits for the server's acknowledgement (within the socket's
    /// `ackTimeout`, if it has one). The event is sent now; the future is its answer.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<AckFuture, EmitError> {
        self.emitter().emit_with_ack(event, args)
    }

    /// Emits `event` with arguments as received (forwarded without a parse when they came
    /// through the same parser).
    pub fn emit_args(&self, event: &str, args: &Args) -> Result<Emitted, EmitError> {
        self.emitter().emit_args(event, args)
    }

    /// [`emit_args`](Self::emit_args), waiting for the acknowledgement.
    pub fn emit_args_with_ack(&self, event: &str, args: &Args) -> Result<AckFuture, EmitError> {
        self.emitter().emit_args_with_ack(event, args)
    }

    fn emitter(&self) -> Emitter<'_> {
        Emitter {
            socket: self,
            flags: EmitFlags::default(),
        }
    }

    /// The next emit waits at most `timeout` for its acknowledgement.
    pub fn timeout(&self, timeout: Duration) -> Emitter<'_> {
        self.emitter().timeout(timeout)
    }

    /// The next emit is dropped unless the socket is connected and the transport can take
    /// it at once.
    pub fn volatile(&self) -> Emitter<'_> {
        self.emitter().volatile()
    }

    /// The official client's `compress` flag. This client does not negotiate
    /// permessage-deflate (neither does a browser's page), so packets go uncompressed
    /// either way; the flag is accepted so that code written for the official API reads
    /// the same.
    pub fn compress(&self, compress: bool) -> Emitter<'_> {
        self.emitter().compress(compress)
    }

    fn listeners(&self) -> std::sync::MutexGuard<'_, SocketListeners> {
        lock(&self.socket.listeners)
    }

    /// Calls `listener` with every `event` the server sends. Several listeners of one
    /// event are called in the order they were added.
    pub fn on<F>(&self, event: &str, listener: F) -> ListenerId
    where
        F: Fn(&Event) + MaybeSend + MaybeSync + 'static,
    {
        self.add_event(event, Arc::new(listener), false)
    }

    /// Like [`on`](Self::on), removed after its first call.
    pub fn once<F>(&self, event: &str, listener: F) -> ListenerId
    where
        F: Fn(&Event) + MaybeSend + MaybeSync + 'static,
    {
        self.add_event(event, Arc::new(listener), true)
    }

    fn add_event(&self, event: &str, f: EventFn, once: bool) -> ListenerId {
        let mut listeners = self.listeners();
        let id = listeners.next_id();
        listeners
            .events
            .entry(event.to_owned())
            .or_default()
            .push(Entry { id, once, f }, false);
        id
    }

    /// Removes the listener `id` (of any kind). Whether it was there.
    pub fn off(&self, id: ListenerId) -> bool {
        let (removed, outgoing) = {
            let mut listeners = self.listeners();
            (listeners.remove(id), !listeners.any_outgoing.is_empty())
        };
        if removed && !outgoing {
            // No outgoing listener left: emits need not be decoded back for them.
            self.with_core(|core, key, _| core.set_notify_outgoing(key, false));
        }
        removed
    }

    /// Removes every listener of `event`.
    pub fn off_event(&self, event: &str) {
        self.listeners().events.remove(event);
    }

    /// How many listeners `event` has.
    pub fn listener_count(&self, event: &str) -> usize {
        self.listeners()
            .events
            .get(event)
            .map_or(0, |list| list.len())
    }

    /// Calls `listener` with every event received, before the event's own listeners
    /// (`onAny`).
    pub fn on_any<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&Event) + MaybeSend + MaybeSync + 'static,
    {
        self.add_any(Arc::new(listener), false)
    }

    /// Like [`on_any`](Self::on_any), before the catch-all listeners already added
    /// (`prependAny`).
    pub fn prepend_any<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&Event) + MaybeSend + MaybeSync + 'static,
    {
        self.add_any(Arc::new(listener), true)
    }

    fn add_any(&self, f: EventFn, first: bool) -> ListenerId {
        let mut listeners = self.listeners();
        let id = listeners.next_id();
        listeners.any.push(Entry { id, once: false, f }, first);
        id
    }

    /// Removes every catch-all listener (`offAny()`).
    pub fn off_any(&self) {
        self.listeners().any.clear();
    }

    /// How many catch-all listeners there are (`listenersAny().length`).
    pub fn any_listener_count(&self) -> usize {
        self.listeners().any.len()
    }

    /// Calls `listener` with the name and arguments of every event this socket sends
    /// (`onAnyOutgoing`), as it goes to the transport.
    pub fn on_any_outgoing<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&Socket, &str, &Args) + MaybeSend + MaybeSync + 'static,
    {
        let id = {
            let mut listeners = self.listeners();
            let id = listeners.next_id();
            listeners.any_outgoing.push(
                Entry {
                    id,
                    once: false,
                    f: Arc::new(listener),
                },
                false,
            );
            id
        };
        self.with_core(|core, key, _| core.set_notify_outgoing(key, true));
        id
    }

    /// Removes every outgoing catch-all listener (`offAnyOutgoing()`).
    pub fn off_any_outgoing(&self) {
        self.listeners().any_outgoing.clear();
        self.with_core(|core, key, _| core.set_notify_outgoing(key, false));
    }

    /// Calls `listener` when the socket connects (and reconnects).
    pub fn on_connect<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&Socket) + MaybeSend + MaybeSync + 'static,
    {
        let mut listeners = self.listeners();
        let id = listeners.next_id();
        listeners.connect.push(
            Entry {
                id,
                once: false,
                f: Arc::new(listener),
            },
            false,
        );
        id
    }

    /// Calls `listener` when the socket disconnects, with the reason.
    pub fn on_disconnect<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&Socket, DisconnectReason) + MaybeSend + MaybeSync + 'static,
    {
        let mut listeners = self.listeners();
        let id = listeners.next_id();
        listeners.disconnect.push(
            Entry {
                id,
                once: false,
                f: Arc::new(listener),
            },
            false,
        );
        id
    }

    /// Calls `listener` when a connection attempt fails or the server refuses the socket
    /// (a middleware's error, with its `data`).
    pub fn on_connect_error<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&Socket, &ConnectError) + MaybeSend + MaybeSync + 'static,
    {
        let mut listeners = self.listeners();
        let id = listeners.next_id();
        listeners.connect_error.push(
            Entry {
                id,
                once: false,
                f: Arc::new(listener),
            },
            false,
        );
        id
    }

    /// Answers the server's event `id`.
    fn send_ack(
        &self,
        session: u64,
        encode: impl FnOnce(Parser, &str) -> Result<Encoded, EncodeError>,
    ) -> Result<(), EmitError> {
        let nsp = &self.socket.nsp;
        self.with_core(|core, key, now| {
            let encoded = encode(core.parser(), nsp);
            core.send_ack(now, key, session, encoded)
        })
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("nsp", &self.socket.nsp)
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

/// An emit with flags: [`Socket::timeout`], [`Socket::volatile`], [`Socket::compress`].
#[derive(Clone, Copy)]
#[must_use = "an emitter does nothing until one of its emit methods is called"]
pub struct Emitter<'a> {
    socket: &'a Socket,
    flags: EmitFlags,
}

impl<'a> Emitter<'a> {
    /// Waits at most `timeout` for the acknowledgement.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.flags.timeout = Some(timeout);
        self
    }

    /// Dropped unless connected and the transport can take it at once.
    pub fn volatile(mut self) -> Self {
        self.flags.volatile = true;
        self
    }

    /// See [`Socket::compress`].
    pub fn compress(self, _compress: bool) -> Self {
        self
    }

    fn send(
        self,
        event: &str,
        waiter: Option<Waiter>,
        encode: crate::core::Encode<'_>,
    ) -> Result<Emitted, EmitError> {
        if self.socket.token.shared.dead.load(Ordering::Acquire) {
            return Err(EmitError::Closed);
        }
        let flags = self.flags;
        self.socket
            .with_core(|core, key, now| core.emit(now, key, event, flags, waiter, encode))
    }

    /// Emits `event` with `args` (see [`Socket::emit`]).
    pub fn emit<T: Serialize + ?Sized>(self, event: &str, args: &T) -> Result<Emitted, EmitError> {
        self.send(event, None, &|parser, nsp, id| {
            parser.encode_event(nsp, id, event, args)
        })
    }

    /// Emits `event` and waits for the acknowledgement.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        self,
        event: &str,
        args: &T,
    ) -> Result<AckFuture, EmitError> {
        let (waiter, future) = AckFuture::new();
        self.send(event, Some(waiter), &|parser, nsp, id| {
            parser.encode_event(nsp, id, event, args)
        })?;
        Ok(future)
    }

    /// Emits `event` with arguments as received.
    pub fn emit_args(self, event: &str, args: &Args) -> Result<Emitted, EmitError> {
        self.send(event, None, &|parser, nsp, id| {
            parser.encode_event_args(nsp, id, event, args)
        })
    }

    /// Emits `event` with arguments as received and waits for the acknowledgement.
    pub fn emit_args_with_ack(self, event: &str, args: &Args) -> Result<AckFuture, EmitError> {
        let (waiter, future) = AckFuture::new();
        self.send(event, Some(waiter), &|parser, nsp, id| {
            parser.encode_event_args(nsp, id, event, args)
        })?;
        Ok(future)
    }
}

/// The server's acknowledgement of an emit: its arguments, or why none came.
#[must_use = "the acknowledgement is only seen by awaiting it"]
#[derive(Debug)]
pub struct AckFuture(oneshot::Receiver<Result<Args, AckError>>);

impl AckFuture {
    fn new() -> (Waiter, AckFuture) {
        let (sender, receiver) = oneshot::channel();
        (sender, AckFuture(receiver))
    }
}

impl Future for AckFuture {
    type Output = Result<Args, AckError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.0).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            // The connection's task ended (every handle was dropped).
            Poll::Ready(Err(_)) => Poll::Ready(Err(AckError::Disconnected)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Event {
    /// The event's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its arguments, as received.
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// Its arguments as `T` (a tuple for several; see [`Args::deserialize`]).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ArgsError> {
        self.args.deserialize()
    }

    /// The socket it came to.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Whether the server waits for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Acknowledges the event with `args` (spread as for emits). Only the first answer
    /// is sent; without a request for one, nothing is.
    pub fn ack<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), EmitError> {
        match &self.ack {
            Some(ack) => ack.send(args),
            None => Ok(()),
        }
    }

    /// Acknowledges the event with arguments as received.
    pub fn ack_args(&self, args: &Args) -> Result<(), EmitError> {
        match &self.ack {
            Some(ack) => ack.send_args(args),
            None => Ok(()),
        }
    }

    /// What answers the event later, from elsewhere (a spawned task).
    pub fn ack_sender(&self) -> Option<AckSender> {
        self.ack.clone()
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("wants_ack", &self.wants_ack())
            .finish()
    }
}

impl AckSender {
    fn first(&self) -> bool {
        !self.sent.swap(true, Ordering::AcqRel)
    }

    /// Answers with `args` (spread as for emits).
    pub fn send<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), EmitError> {
        if !self.first() {
            return Ok(());
        }
        let id = self.id;
        self.socket
            .send_ack(self.session, |parser, nsp| parser.encode_ack(nsp, id, args))
    }

    /// Answers with arguments as received.
    pub fn send_args(&self, args: &Args) -> Result<(), EmitError> {
        if !self.first() {
            return Ok(());
        }
        let id = self.id;
        self.socket.send_ack(self.session, |parser, nsp| {
            parser.encode_ack_args(nsp, id, args)
        })
    }
}

impl std::fmt::Debug for AckSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckSender").field("id", &self.id).finish()
    }
}
