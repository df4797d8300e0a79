//! The gateway assembled: the Socket.IO server with its namespaces, authentication and
//! origin policy, and the HTTP routes beside it (client bundle, demo, publish API,
//! metrics, health).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use engineio::{Cors, Refusal};
use http::{HeaderMap, Response, StatusCode, header};
use socketio::{ConnectError, ConnectionStateRecovery, Socket, SocketIo};
use tower::{Service, ServiceExt};

use crate::api::{self, ApiState};
use crate::assets;
use crate::auth::Authenticator;
use crate::cluster::Cluster;
use crate::config::Settings;
use crate::demo;
use crate::metrics::Metrics;

/// Whether `name` matches `pattern`, where `*` matches any run of characters.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return pattern == name;
    };
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// The origin policy when no list is configured: a page may connect only from the
/// server's own origin (its `Origin` names the `Host` it talks to).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority == Some(host)
}

/// The Socket.IO server for these settings.
pub(crate) fn socket_io(
    settings: &Settings,
    metrics_slot: &MetricsSlot,
    cluster: Option<&Cluster>,
) -> Result<SocketIo, String> {
    let origins = settings.allowed_origins.clone();
    let mut builder = SocketIo::builder().engine(|engine| {
        let engine = engine
            .ping_interval(settings.ping_interval)
            .ping_timeout(settings.ping_timeout)
            .max_payload(settings.max_payload)
            .max_sessions(settings.max_connections)
            .max_buffered_bytes(settings.max_buffered_bytes);
        match &origins {
            Some(list) if list.iter().any(|o| o == "*") => engine.cors(Cors::any()),
            Some(list) => match Cors::origins(list) {
                Ok(cors) => engine.allowed_origins(list).cors(cors),
                // Reported by `build` below through `allowed_origins`.
                Err(_) => engine.allowed_origins(list),
            },
            None => engine.allow_request(|parts| {
                let allowed = same_origin(&parts.headers);
                async move {
                    if allowed {
                        Ok(())
                    } else {
                        Err(Refusal::with_message("Origin not allowed"))
                    }
                }
            }),
        }
    });
    // Namespaces made by the patterns go away with their last socket: otherwise anyone
    // could fill the namespace limit (and /metrics) with names that match.
    builder = builder.cleanup_empty_child_namespaces(true);
    if let Some(cluster) = cluster {
        builder = builder.adapter(cluster.adapter.factory());
    }
    if let Some(window) = settings.recovery_window {
        builder = builder.connection_state_recovery(ConnectionStateRecovery {
            max_disconnection_duration: window,
            ..ConnectionStateRecovery::default()
        });
    }
    let io = builder.build().map_err(|error| error.to_string())?;

    let authenticator = Arc::new(Authenticator::new(&settings.auth, &settings.jwt_claims)?);
    let patterns = settings.namespaces.clone();
    let allowed = move |name: &str| patterns.iter().any(|pattern| matches(pattern, name));
    let demo_on = settings.demo && allowed("/chat");
    if settings.demo && !demo_on {
        tracing::warn!("the demo chat is off: /chat is not among the allowed namespaces");
    }
    // The main namespace always exists: refuse it unless allowed.
    if !allowed("/") {
        let slot = metrics_slot.clone();
        io.of("/").middleware(move |_socket: Socket| {
            let slot = slot.clone();
            async move {
                slot.join_refused("namespace not allowed");
                Err(ConnectError::new("Invalid namespace"))
            }
        });
    }
    let parent = io.of_dynamic(move |name, _auth| name != "/" && allowed(name));
    let guard = |slot: MetricsSlot, authenticator: Arc<Authenticator>| {
        move |socket: Socket| {
            let (slot, authenticator) = (slot.clone(), authenticator.clone());
            async move {
                match authenticator.check(&socket).await {
                    Ok(identity) => {
                        if let Some(data) = identity.data {
                            let _ = socket.set_data(&data);
                        }
                        socket.join(identity.rooms);
                        Ok(())
                    }
                    Err(refusal) => {
                        slot.join_refused(refusal.reason);
                        Err(refusal.into_connect_error())
                    }
                }
            }
        }
    };
    parent.middleware(guard(metrics_slot.clone(), authenticator.clone()));
    let main = io.of("/");
    main.middleware(guard(metrics_slot.clone(), authenticator.clone()));
    if demo_on {
        let chat = io.of("/chat");
        // `io.of` bypasses the dynamic namespace: give it the same guard.
        chat.middleware(guard(metrics_slot.clone(), authenticator));
        demo::install(&chat);
    }
    Ok(io)
}

/// The metrics, which exist only once the server does: the server's middlewares count
/// into them through this slot.
#[derive(Clone, Debug, Default)]
pub(crate) struct MetricsSlot(Arc<std::sync::OnceLock<Arc<Metrics>>>);

impl MetricsSlot {
    fn join_refused(&self, reason: &str) {
        if let Some(metrics) = self.0.get() {
            metrics.join_refused(reason);
        }
    }

    /// Fills the slot.
    pub(crate) fn set(&self, metrics: Arc<Metrics>) {
        let _ = self.0.set(metrics);
    }
}

/// The HTTP routes beside Socket.IO.
pub(crate) fn router(
    settings: &Settings,
    io: &SocketIo,
    metrics: Arc<Metrics>,
    cluster: Option<Cluster>,
) -> Router {
    let state = ApiState {
        io: io.clone(),
        keys: Arc::new(settings.api_keys.clone()),
        metrics: metrics.clone(),
        emitter: cluster.map(|cluster| cluster.emitter),
    };
    let api = Router::new()
        .route("/api/v1/emit", post(api::emit))
        .route("/api/v1/sockets", get(api::sockets))
        .route("/api/v1/rooms", get(api::rooms))
        .route("/api/v1/disconnect", post(api::disconnect))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::require_key,
        ))
        .with_state(state);
    let closing_io = io.clone();
    let mut router = Router::new()
        .route(
            "/healthz",
            get(move || {
                let closing = closing_io.engine().is_closing();
                async move {
                    if closing {
                        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
                    } else {
                        (StatusCode::OK, "ok")
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        metrics.render(),
                    )
                }
            }),
        )
        .merge(api);
    if settings.demo {
        for asset in assets::DEMO {
            router = router.route(
                asset.path,
                get(move |headers: HeaderMap| async move { assets::serve(asset, &headers) }),
            );
        }
    }
    router
}

/// Routes a request: the client bundle, then Socket.IO, then the other routes.
pub(crate) async fn route(
    io: SocketIo,
    router: Router,
    request: Request,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path();
    if let Some(asset) = assets::bundle_file(path) {
        return Ok(assets::serve(asset, request.headers()));
    }
    if io.engine().handles(&request) {
        let mut io = io;
        let response = io.call(request).await?;
        return Ok(response.map(Body::new));
    }
    let response = router.oneshot(request).await?;
    Ok(response.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_patterns() {
        assert!(matches("/", "/"));
        assert!(!matches("/", "/a"));
        assert!(matches("/orders/*", "/orders/42"));
        assert!(matches("/orders/*", "/orders/"));
        assert!(!matches("/orders/*", "/order"));
        assert!(matches("/*/live", "/team-a/live"));
        assert!(!matches("/*/live", "/team-a/live/x"));
        assert!(matches("*", "/anything"));
        assert!(matches("/a*b*c", "/a-b-c"));
        assert!(!matches("/a*b*c", "/a-c-b"));
    }

    #[test]
    fn same_origin_compares_the_origin_with_the_host() {
        let headers = |origin: &'static str, host: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ORIGIN, origin.parse().unwrap());
            headers.insert(header::HOST, host.parse().unwrap());
            headers
        };
        assert!(same_origin(&headers(
            "http://127.0.0.1:3000",
            "127.0.0.1:3000"
        )));
        assert!(same_origin(&headers(
            "https://chat.example",
            "chat.example"
        )));
        assert!(!same_origin(&headers(
            "http://evil.example",
            "127.0.0.1:3000"
        )));
        assert!(same_origin(&HeaderMap::new()), "no Origin: not a browser");
    }
}
