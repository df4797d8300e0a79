//! Mounting a server in front of another service: Socket.IO requests to the server, the
//! rest to the service it wraps.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use engineio::ResponseBody;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Either;
use tower_layer::Layer;
use tower_service::Service;

use crate::server::SocketIo;

/// A tower layer that puts a Socket.IO server in front of a service: requests under the
/// server's path (`/socket.io/` by default) go to it, all others to the wrapped service.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use axum::{Router, routing::get};
///
/// let io = socketio::SocketIo::new();
/// let app = Router::new().route("/", get(|| async { "hello" })).layer(io.layer());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, app).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SocketIoLayer {
    io: SocketIo,
}

impl SocketIo {
    /// A layer that routes Socket.IO requests to this server; see [`SocketIoLayer`].
    pub fn layer(&self) -> SocketIoLayer {
        SocketIoLayer { io: self.clone() }
    }
}

impl<S> Layer<S> for SocketIoLayer {
    type Service = SocketIoService<S>;

    fn layer(&self, inner: S) -> SocketIoService<S> {
        SocketIoService {
            io: self.io.clone(),
            inner,
        }
    }
}

/// The service [`SocketIoLayer`] builds.
#[derive(Clone, Debug)]
pub struct SocketIoService<S> {
    io: SocketIo,
    inner: S,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, ResBody> Service<Request<B>> for SocketIoService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    SocketIo: Service<Request<B>, Response = Response<ResponseBody>, Error = Infallible>,
    <SocketIo as Service<Request<B>>>::Future: Send + 'static,
    ResBody: Body<Data = Bytes>,
{
    type Response = Response<Either<ResponseBody, ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if self.io.engine().handles(&request) {
            let future = self.io.call(request);
            Box::pin(async move {
                match future.await {
                    Ok(response) => Ok(response.map(Either::Left)),
                    Err(never) => match never {},
                }
            })
        } else {
            let future = self.inner.call(request);
            Box::pin(async move { Ok(future.await?.map(Either::Right)) })
        }
    }
}
