//! How an application receives what clients send.

use engineio_proto::{CloseReason, Message};

use crate::socket::EngineSocket;

/// Receives every new session. Called on the session's own task; must not block.
pub trait Handler: Send + Sync + 'static {
    /// A session opened: return the object that receives its messages and its close.
    fn on_connection(&self, socket: EngineSocket) -> Box<dyn SocketHandler>;
}

impl<F, H> Handler for F
where
    F: Fn(EngineSocket) -> H + Send + Sync + 'static,
    H: SocketHandler,
{
    fn on_connection(&self, socket: EngineSocket) -> Box<dyn SocketHandler> {
        Box::new(self(socket))
    }
}

/// Receives one session's messages, in the order the client sent them, then its close.
///
/// Every method runs on the session's task, which also drives its heartbeat: hand slow
/// work to another task rather than block here.
pub trait SocketHandler: Send + 'static {
    /// The client sent a message.
    fn on_message(&mut self, message: Message);

    /// The session moved from long-polling to WebSocket.
    fn on_upgrade(&mut self) {}

    /// The session closed; nothing follows.
    fn on_close(&mut self, reason: CloseReason);
}
