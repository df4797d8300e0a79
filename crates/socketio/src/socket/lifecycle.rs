//! A socket's life as its connection drives it: the join, events and acks from the
//! client, the leave; and the packets held for a restored socket behind its replay.

use std::borrow::Cow;

use super::*;

impl Socket {
    pub(crate) fn send(&self, encoded: &Encoded, volatile: bool) -> Result<(), EmitError> {
        self.send_cow(Cow::Borrowed(encoded), volatile, true)
    }

    /// Like [`send`](Self::send), for a packet made for this socket alone (an ack): it is
    /// handed over rather than cloned, so that its buffer is never shared.
    pub(crate) fn send_owned(&self, encoded: Encoded, volatile: bool) -> Result<(), EmitError> {
        self.send_cow(Cow::Owned(encoded), volatile, true)
    }

    /// Like [`send`](Self::send), but never written by the caller: for a caller holding
    /// the namespace's delivery lock (see `EngineSocket::try_enqueue`).
    pub(crate) fn send_enqueued(&self, encoded: &Encoded, volatile: bool) -> Result<(), EmitError> {
        self.send_cow(Cow::Borrowed(encoded), volatile, false)
    }

    fn send_cow(
        &self,
        encoded: Cow<'_, Encoded>,
        volatile: bool,
        write: bool,
    ) -> Result<(), EmitError> {
        if self.0.holding.load(Ordering::Acquire) {
            let mut state = self.lock();
            if let Some(held) = &mut state.held {
                if volatile {
                    // It could not be written at once.
                    return Ok(());
                }
                // The missed packets plus as many live ones: past that the client reads
                // too slowly to ever catch up.
                let limit = 2 * self
                    .0
                    .ns
                    .config
                    .recovery
                    .as_ref()
                    .map_or(0, |r| r.max_missed_packets)
                    + 1024;
                if held.len() >= limit {
                    drop(state);
                    self.0.conn.close(DisconnectReason::BufferFull);
                    return Err(EmitError::BufferFull);
                }
                held.push_back(encoded.into_owned());
                return Ok(());
            }
        }
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        self.0.conn.send_cow(encoded, volatile, write)
    }

    /// Sends the held packets, waiting for room in the connection's buffer, then lets
    /// packets through again. Packets held meanwhile follow in order.
    async fn release_held(&self) {
        loop {
            let next = {
                let mut state = self.lock();
                match state.held.as_mut().and_then(VecDeque::pop_front) {
                    Some(packet) => packet,
                    None => {
                        state.held = None;
                        self.0.holding.store(false, Ordering::Release);
                        return;
                    }
                }
            };
            if self.0.conn.send_waiting(&next).await.is_err() {
                return;
            }
        }
    }

    /// Whether the socket has left (or been refused): a new join of its namespace may
    /// replace it.
    pub(crate) fn is_gone(&self) -> bool {
        self.lock().leaving.is_some()
    }

    /// Why the socket is leaving, once it is.
    pub(crate) fn leaving_for(&self) -> Option<DisconnectReason> {
        self.lock().leaving
    }

    /// The join, first job of the socket's queue: middlewares, then the namespace, the
    /// client's `CONNECT` answer and the connection handlers. Events that arrive meanwhile
    /// wait behind it.
    pub(crate) async fn join_namespace(self) {
        let ns = self.0.ns.clone();
        let parser = ns.config.parser;
        let skip_middlewares = self.recovered()
            && ns
                .config
                .recovery
                .as_ref()
                .is_some_and(|r| r.skip_middlewares);
        let middlewares = if skip_middlewares {
            Vec::new()
        } else {
            ns.middlewares()
        };
        for middleware in middlewares {
            if let Err(refusal) = middleware(self.clone()).await {
                let packet =
                    parser.encode_connect_error(&ns.name, &refusal.message, refusal.data.as_ref());
                let _ = self.0.conn.send(&packet, false);
                self.leave_namespace(DisconnectReason::ServerNamespaceDisconnect);
                return;
            }
        }
        {
            // Checked and set under the lock that `leave_namespace` takes, so a close
            // during the middlewares cannot leave a socket behind in the namespace.
            let state = self.lock();
            if state.leaving.is_some() {
                return;
            }
            self.0.connected.store(true, Ordering::Release);
        }
        ns.add(&self);
        self.0.conn.mark_joined();
        let _ = self.0.conn.send(
            &parser.encode_connect(&ns.name, self.0.id.as_str(), self.pid()),
            false,
        );
        if self.0.holding.load(Ordering::Acquire) {
            self.release_held().await;
        }
        for handler in ns.connection_handlers() {
            handler(self.clone()).await;
        }
    }

    /// An event from the client: catch-all listeners at once, then the middlewares and
    /// handlers on the socket's queue.
    pub(crate) fn receive_event(
        &self,
        name: String,
        args: Args,
        ack: Option<u64>,
    ) -> Result<(), ()> {
        let ack = ack.map(|id| AckSender::new(self.clone(), id));
        let event = Event { name, args, ack };
        let any: Vec<AnyListener> = {
            let state = self.lock();
            state.hooks().any.iter().map(|(_, l)| l.clone()).collect()
        };
        for listener in any {
            listener(self, &event);
        }
        let socket = self.clone();
        match self
            .0
            .queue
            .run_now_if_idle(move || socket.event_job(event))
        {
            None => Ok(()),
            Some(make) => self.submit(Box::pin(async move { make().await })),
        }
    }

    /// The job that handles `event`, built when it is the event's turn: the handler's own
    /// future when the event has one handler and no packet middleware runs.
    fn event_job(self, event: Event) -> Job {
        let direct = {
            let state = self.lock();
            if state.hooks().middlewares.is_empty() {
                match state.handlers.get(event.name.as_str()) {
                    Some(Handlers::One(handler)) => Some(handler.clone()),
                    // Nothing to run (the catch-all listeners have seen it).
                    None => return Box::pin(std::future::ready(())),
                    Some(Handlers::Many(_)) => None,
                }
            } else {
                None
            }
        };
        match direct {
            Some(handler) if self.connected() => handler(self, event),
            Some(_) => Box::pin(std::future::ready(())),
            None => Box::pin(self.handle_event(event)),
        }
    }

    async fn handle_event(self, mut event: Event) {
        let (middlewares, handlers) = {
            let state = self.lock();
            (
                state.hooks().middlewares.clone(),
                state.handlers.get(event.name.as_str()).cloned(),
            )
        };
        for middleware in middlewares {
            match middleware(self.clone(), event).await {
                Ok(passed) => event = passed,
                Err(error) => {
                    self.report_error(&*error);
                    return;
                }
            }
        }
        if !self.connected() {
            return;
        }
        let Some(handlers) = handlers else { return };
        if let [handler] = &handlers[..] {
            handler(self, event).await;
            return;
        }
        for handler in handlers.iter() {
            handler(self.clone(), event.clone()).await;
        }
    }

    /// An acknowledgement from the client.
    pub(crate) fn receive_ack(&self, id: u64, args: Args) {
        let waiter = self.lock().acks.take(id);
        match waiter {
            Some(AckWaiter::Single(sender)) => {
                let _ = sender.send(args);
            }
            Some(AckWaiter::Broadcast(collector)) => collector.answer(args),
            None => tracing::debug!(id, "acknowledgement for an unknown id"),
        }
    }

    pub(crate) fn submit(&self, job: Job) -> Result<(), ()> {
        self.0.queue.submit(job).map_err(|_| ())
    }

    /// Leaves the namespace: refuses emits at once, then on the socket's queue (after the
    /// events already received) runs `disconnecting`, leaves the rooms, runs `disconnect`.
    pub(crate) fn leave_namespace(&self, reason: DisconnectReason) {
        let (was_connected, waiters): (bool, Vec<_>) = {
            let mut state = self.lock();
            if state.leaving.is_some() {
                return;
            }
            state.leaving = Some(reason);
            state.held = None;
            let was_connected = self.0.connected.swap(false, Ordering::AcqRel);
            (
                was_connected,
                state.acks.drain().map(|(_, waiter)| waiter).collect(),
            )
        };
        // Waiters see their senders dropped: `Disconnected`.
        drop(waiters);
        if !was_connected {
            // Never joined (refused, or closed during the middlewares; a restored socket
            // is in the namespace already and keeps its session if the reason allows).
            self.0.ns.remove(self, reason);
            return;
        }
        let socket = self.clone();
        let job: Job = Box::pin(async move {
            let (disconnecting, disconnect) = {
                let state = socket.lock();
                (
                    state.hooks().disconnecting.clone(),
                    state.hooks().disconnect.clone(),
                )
            };
            for handler in disconnecting {
                handler(socket.clone(), reason).await;
            }
            socket.0.ns.remove(&socket, reason);
            for handler in disconnect {
                handler(socket.clone(), reason).await;
            }
            // Drop the handlers: they may hold clones of this socket.
            let mut state = socket.lock();
            state.handlers.clear();
            // Error handlers stay: a late event may still be refused and reported.
            let errors = state
                .hooks
                .take()
                .map(|hooks| hooks.errors)
                .unwrap_or_default();
            if !errors.is_empty() {
                state.hooks_mut().errors = errors;
            }
        });
        // Events still queued find the socket disconnected and return at once.
        self.0.queue.submit_always(job);
    }
}
