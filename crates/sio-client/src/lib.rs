//! Socket.IO client.

mod core;
mod error;
mod event;
mod options;
mod platform;

pub use error::{AckError, EmitError};
pub use event::{ConnectError, DisconnectReason, ManagerEvent};
pub use options::{Auth, ManagerOptions, OfflineBuffer, SocketOptions, TlsOptions, Transport, WhenFull};
pub use platform::{BoxFuture, MaybeSend, MaybeSync};
