//! An event received from a client, and the means to answer it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_proto::{Args, ArgsError};

use crate::error::EmitError;
use crate::socket::Socket;

/// An event from a client: its name, its arguments as received, and its acknowledgement
/// if the client asked for one. Cheap to clone (shared buffers).
#[derive(Clone)]
pub struct Event {
    pub(crate) name: String,
    pub(crate) args: Args,
    pub(crate) ack: Option<AckSender>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("wants_ack", &self.ack.is_some())
            .finish()
    }
}

impl Event {
    /// The event's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arguments deserialised as `T`, read as a sequence: a tuple takes one argument
    /// per element (extra arguments are ignored, as in JavaScript); binary data fills
    /// `bytes::Bytes` fields.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, ArgsError> {
        self.args.deserialize()
    }

    /// The argument at `index` as `T`.
    pub fn arg<T: DeserializeOwned>(&self, index: usize) -> Result<T, ArgsError> {
        self.args.get(index)
    }

    /// The arguments as received, to forward or acknowledge without parsing them.
    pub fn raw_args(&self) -> &Args {
        &self.args
    }

    /// Replaces the arguments (a packet middleware may rewrite an event).
    pub fn set_raw_args(&mut self, args: Args) {
        self.args = args;
    }

    /// Whether the client waits for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Answers the client's acknowledgement with typed arguments (a tuple spreads into
    /// several). Only the first answer is sent; without a requested ack this does nothing.
    pub fn ack<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), EmitError> {
        match &self.ack {
            Some(ack) => ack.send(args),
            None => Ok(()),
        }
    }

    /// Answers with arguments as received (an echo, a relay), without re-encoding them.
    pub fn ack_raw(&self, args: &Args) -> Result<(), EmitError> {
        match &self.ack {
            Some(ack) => ack.send_raw(args),
            None => Ok(()),
        }
    }

    /// A handle to answer later, from anywhere (answers nothing if none was requested).
    pub fn ack_sender(&self) -> AckSender {
        self.ack.clone().unwrap_or_else(AckSender::none)
    }
}

/// Answers one client acknowledgement. Clones share it: only the first answer is sent.
#[derive(Clone)]
pub struct AckSender {
    target: Option<(Socket, u64)>,
    sent: Arc<AtomicBool>,
}

impl fmt::Debug for AckSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckSender")
            .field("id", &self.target.as_ref().map(|(_, id)| id))
            .field("sent", &self.sent.load(Ordering::Relaxed))
            .finish()
    }
}

impl AckSender {
    pub(crate) fn new(socket: Socket, id: u64) -> Self {
        AckSender {
            target: Some((socket, id)),
            sent: Arc::new(AtomicBool::new(false)),
        }
    }

    fn none() -> Self {
        AckSender {
            target: None,
            sent: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Whether the client asked for an acknowledgement that has not been sent yet.
    pub fn is_pending(&self) -> bool {
        self.target.is_some() && !self.sent.load(Ordering::Acquire)
    }

    fn claim(&self) -> Option<&(Socket, u64)> {
        let target = self.target.as_ref()?;
        (!self.sent.swap(true, Ordering::AcqRel)).then_some(target)
    }

    /// Sends the acknowledgement with typed arguments (a tuple spreads into several).
    pub fn send<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), EmitError> {
        match self.claim() {
            Some((socket, id)) => socket.send_ack(*id, args),
            None => Ok(()),
        }
    }

    /// Sends the acknowledgement with arguments as received, without re-encoding them.
    pub fn send_raw(&self, args: &Args) -> Result<(), EmitError> {
        match self.claim() {
            Some((socket, id)) => socket.send_ack_raw(*id, args),
            None => Ok(()),
        }
    }
}
