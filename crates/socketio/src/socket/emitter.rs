//! Emitting to one socket with options.

use super::*;

/// Emits to one socket with options: [`Socket::volatile`], [`Socket::timeout`].
#[derive(Debug)]
#[must_use]
pub struct SocketEmitter<'a> {
    pub(super) socket: &'a Socket,
    pub(super) volatile: bool,
    pub(super) timeout: Option<Duration>,
}

impl SocketEmitter<'_> {
    /// Drops the packet if the client cannot take it at once.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Waits at most `timeout` for an acknowledgement.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Accepted for compatibility; compression is off.
    pub fn compress(self, _compress: bool) -> Self {
        self
    }

    /// Where the adapter sequences replayable packets, one to a socket goes through its
    /// log too (as in Node), addressed to the socket's own room.
    fn through_log(&self) -> Option<BroadcastOperator> {
        let ns = &self.socket.0.ns;
        (!self.volatile && ns.sequences())
            .then(|| BroadcastOperator::new(ns.clone()).to(self.socket.id().as_str()))
    }

    fn check(&self, event: &str) -> Result<(), EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        Ok(())
    }

    /// Emits `event` with typed arguments (see [`Socket::emit`]).
    pub fn emit<T: Serialize + ?Sized>(self, event: &str, args: &T) -> Result<(), EmitError> {
        self.check(event)?;
        let ns = &self.socket.0.ns;
        if let Some(log) = self.through_log() {
            return log.emit(event, args);
        }
        let encoded = ns.config.parser.encode_event(&ns.name, None, event, args)?;
        ns.deliver_event(
            Recipients::Socket(self.socket),
            &encoded,
            self.volatile,
            Sequence::Next,
            event,
            &|| crate::broadcast::args_of(ns.config.parser, &encoded),
        )
        .map(drop)
    }

    /// Emits `event` with arguments as received.
    pub fn emit_raw(self, event: &str, args: &Args) -> Result<(), EmitError> {
        self.check(event)?;
        let ns = &self.socket.0.ns;
        if let Some(log) = self.through_log() {
            return log.emit_raw(event, args);
        }
        let encoded = ns
            .config
            .parser
            .encode_event_args(&ns.name, None, event, args)?;
        ns.deliver_event(
            Recipients::Socket(self.socket),
            &encoded,
            self.volatile,
            Sequence::Next,
            event,
            &|| Some(args.clone()),
        )
        .map(drop)
    }

    /// Emits and waits for the acknowledgement; its first argument as `R`.
    pub async fn emit_with_ack<R, T>(self, event: &str, args: &T) -> Result<R, AckError>
    where
        R: DeserializeOwned,
        T: Serialize + ?Sized,
    {
        let answer = self.emit_with_ack_raw(event, args).await?;
        crate::broadcast::first_arg(&answer)
    }

    /// Emits and waits for the acknowledgement; all its arguments.
    pub async fn emit_with_ack_raw<T: Serialize + ?Sized>(
        self,
        event: &str,
        args: &T,
    ) -> Result<Args, AckError> {
        let (id, encoded) = self.encode_with_ack(event, |parser, nsp, id| {
            parser.encode_event(nsp, Some(id), event, args)
        })?;
        self.ack_round(event, id, encoded).await
    }

    /// Emits arguments as received (a relay's, say) and waits for the acknowledgement;
    /// all its arguments.
    pub async fn emit_raw_with_ack(self, event: &str, args: &Args) -> Result<Args, AckError> {
        let (id, encoded) = self.encode_with_ack(event, |parser, nsp, id| {
            parser.encode_event_args(nsp, Some(id), event, args)
        })?;
        self.ack_round(event, id, encoded).await
    }

    /// Checks the event's name and encodes it with the next ack id (before any `.await`:
    /// `encode` is not kept in the future).
    fn encode_with_ack(
        &self,
        event: &str,
        encode: impl FnOnce(
            socketio_proto::Parser,
            &str,
            u64,
        ) -> Result<Encoded, socketio_proto::EncodeError>,
    ) -> Result<(u64, Encoded), AckError> {
        self.check(event)?;
        let ns = &self.socket.0.ns;
        let id = ns.next_ack_id();
        let encoded = encode(ns.config.parser, &ns.name, id).map_err(EmitError::from)?;
        Ok((id, encoded))
    }

    /// Sends the event `encoded`, which asks for ack `id`, and waits for the answer.
    async fn ack_round(self, event: &str, id: u64, encoded: Encoded) -> Result<Args, AckError> {
        let socket = self.socket;
        let ns = &socket.0.ns;
        let timeout = self.timeout.unwrap_or(ns.config.ack_timeout);
        let (sender, answer) = oneshot::channel();
        socket.register_ack(id, AckWaiter::Single(sender))?;
        socket.notify_outgoing(event, &|| {
            crate::broadcast::args_of(ns.config.parser, &encoded)
        });
        if let Err(error) = socket.send(&encoded, self.volatile) {
            socket.unregister_ack(id);
            return Err(error.into());
        }
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(args)) => Ok(args),
            Ok(Err(_)) => Err(AckError::Disconnected),
            Err(_) => {
                socket.unregister_ack(id);
                socket.0.conn.counter().ack_timeouts(1);
                Err(AckError::Timeout(timeout))
            }
        }
    }
}
