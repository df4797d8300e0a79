//! The shapes of the functions an application registers.
//!
//! An event handler is an async function of the socket and either the whole [`Event`]
//! (arguments as received, typed on demand, and its ack) or typed [`Data`], optionally with
//! an [`AckSender`]. Three shapes, not one impl per argument count, keep compile times low.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::error::{ConnectError, DisconnectReason};
use crate::event::{AckSender, Event};
use crate::socket::Socket;

pub use crate::dispatch::BoxFuture;

/// What a handler may return: nothing, or a `Result` whose error is logged.
pub trait HandlerOutput: Send + 'static {
    /// Reports the outcome of a handler named `what`.
    fn report(self, what: &str);
}

impl HandlerOutput for () {
    fn report(self, _what: &str) {}
}

impl<E: fmt::Display + Send + 'static> HandlerOutput for Result<(), E> {
    fn report(self, what: &str) {
        if let Err(error) = self {
            tracing::warn!(%error, handler = what, "a handler returned an error");
        }
    }
}

/// Typed arguments for an event handler: the event's arguments deserialised as `T`, read as
/// a sequence (a tuple takes one argument per element).
///
/// ```
/// # use socketio::{Data, Socket};
/// # fn register(socket: &Socket) {
/// socket.on("move", |_socket: Socket, Data((x, y)): Data<(f64, f64)>| async move {
///     println!("moved to {x}, {y}");
/// });
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Data<T>(pub T);

/// A function that handles an event: an async fn (or closure) of the socket and either the
/// whole [`Event`], or typed [`Data`], or typed [`Data`] and an [`AckSender`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event handler",
    note = "an event handler is an async fn (or closure) taking `(Socket, Event)`, \
            `(Socket, Data<T>)` or `(Socket, Data<T>, AckSender)`, returning `()` or a `Result`"
)]
pub trait EventHandler<Marker>: Send + Sync + 'static {
    /// Handles one event.
    fn call(&self, socket: Socket, event: Event) -> BoxFuture<()>;
}

/// Marks the `(Socket, Event)` shape.
#[derive(Debug)]
pub struct WithEvent;

/// Marks the `(Socket, Data<T>)` shape.
#[derive(Debug)]
pub struct WithData<T>(PhantomData<fn() -> T>);

/// Marks the `(Socket, Data<T>, AckSender)` shape.
#[derive(Debug)]
pub struct WithDataAndAck<T>(PhantomData<fn() -> T>);

impl<F, Fut> EventHandler<WithEvent> for F
where
    F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    fn call(&self, socket: Socket, event: Event) -> BoxFuture<()> {
        let future = self(socket, event);
        Box::pin(async move { future.await.report("event") })
    }
}

fn typed_args<T: DeserializeOwned>(socket: &Socket, event: &Event) -> Option<T> {
    match event.args::<T>() {
        Ok(data) => Some(data),
        Err(error) => {
            tracing::debug!(event = event.name(), %error, "arguments do not fit the handler");
            socket.report_error(&error);
            None
        }
    }
}

impl<F, Fut, T> EventHandler<WithData<T>> for F
where
    F: Fn(Socket, Data<T>) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
    T: DeserializeOwned + Send + 'static,
{
    fn call(&self, socket: Socket, event: Event) -> BoxFuture<()> {
        let Some(data) = typed_args::<T>(&socket, &event) else {
            return Box::pin(async {});
        };
        let future = self(socket, Data(data));
        Box::pin(async move { future.await.report("event") })
    }
}

impl<F, Fut, T> EventHandler<WithDataAndAck<T>> for F
where
    F: Fn(Socket, Data<T>, AckSender) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
    T: DeserializeOwned + Send + 'static,
{
    fn call(&self, socket: Socket, event: Event) -> BoxFuture<()> {
        let Some(data) = typed_args::<T>(&socket, &event) else {
            return Box::pin(async {});
        };
        let ack = event.ack_sender();
        let future = self(socket, Data(data), ack);
        Box::pin(async move { future.await.report("event") })
    }
}

pub(crate) type ErasedEventHandler = Arc<dyn Fn(Socket, Event) -> BoxFuture<()> + Send + Sync>;

pub(crate) fn erase_event_handler<M, H: EventHandler<M>>(handler: H) -> ErasedEventHandler {
    Arc::new(move |socket, event| handler.call(socket, event))
}

/// Runs when a socket joins a namespace.
pub(crate) type ConnectionHandler = Arc<dyn Fn(Socket) -> BoxFuture<()> + Send + Sync>;

/// Decides whether a socket may join a namespace.
pub(crate) type Middleware =
    Arc<dyn Fn(Socket) -> BoxFuture<Result<(), ConnectError>> + Send + Sync>;

/// Sees each incoming event before the handlers; may change or refuse it.
pub(crate) type PacketMiddleware = Arc<
    dyn Fn(Socket, Event) -> BoxFuture<Result<Event, Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + Sync,
>;

/// Runs when a socket is leaving (`disconnecting`) or has left (`disconnect`).
pub(crate) type DisconnectHandler =
    Arc<dyn Fn(Socket, DisconnectReason) -> BoxFuture<()> + Send + Sync>;

pub(crate) fn connection_handler<F, Fut>(handler: F) -> ConnectionHandler
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    Arc::new(move |socket| {
        let future = handler(socket);
        Box::pin(async move { future.await.report("connection") })
    })
}

pub(crate) fn middleware<F, Fut>(middleware: F) -> Middleware
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
{
    Arc::new(move |socket| Box::pin(middleware(socket)))
}

pub(crate) fn disconnect_handler<F, Fut>(handler: F) -> DisconnectHandler
where
    F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    Arc::new(move |socket, reason| {
        let future = handler(socket, reason);
        Box::pin(async move { future.await.report("disconnect") })
    })
}
