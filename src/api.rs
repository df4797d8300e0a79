//! The publish API: backends in any language emit to clients, list sockets and rooms, and
//! disconnect sockets, over HTTP with a bearer key.
//!
//! ```text
//! POST /api/v1/emit        {"namespace":"/","rooms":["r"],"except":[],"event":"e","data":{…}}
//!                          ("args": […] instead of "data" sends several arguments;
//!                          "volatile": true drops it for clients that cannot take it now)
//! GET  /api/v1/sockets?namespace=/&room=r
//! GET  /api/v1/rooms?namespace=/
//! POST /api/v1/disconnect  {"namespace":"/","rooms":["r"],"close":false}
//! ```

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::json;
use socketio::{Args, EmitError, Namespace, SocketIo, Value};
use subtle::ConstantTimeEq;

use crate::metrics::Metrics;

/// What the API handlers share.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) io: SocketIo,
    pub(crate) keys: Arc<Vec<String>>,
    pub(crate) metrics: Arc<Metrics>,
    /// In a cluster: emits to namespaces with no socket on this node.
    pub(crate) emitter: Option<socketio_redis::Emitter>,
}

/// An API answer: JSON, counted in the metrics.
struct Answer {
    endpoint: &'static str,
    status: StatusCode,
    body: serde_json::Value,
}

impl Answer {
    fn ok(endpoint: &'static str, body: serde_json::Value) -> Self {
        Answer {
            endpoint,
            status: StatusCode::OK,
            body,
        }
    }

    fn error(endpoint: &'static str, status: StatusCode, message: &str) -> Self {
        Answer {
            endpoint,
            status,
            body: json!({ "error": message }),
        }
    }

    fn send(self, state: &ApiState) -> Response {
        state
            .metrics
            .api_request(self.endpoint, self.status.as_u16());
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// Whether the request carries one of the keys (compared in constant time).
fn authorized(state: &ApiState, headers: &HeaderMap) -> bool {
    let Some(presented) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return false;
    };
    state.keys.iter().fold(false, |found, key| {
        found | bool::from(key.as_bytes().ct_eq(presented.as_bytes()))
    })
}

/// Refuses a request without one of the keys before anything else, its body included,
/// is read.
pub(crate) async fn require_key(
    State(state): State<ApiState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if authorized(&state, request.headers()) {
        return next.run(request).await;
    }
    // The endpoint names are the metrics' labels: a fixed set.
    let endpoint = match request.uri().path().rsplit('/').next() {
        Some("emit") => "emit",
        Some("sockets") => "sockets",
        Some("rooms") => "rooms",
        Some("disconnect") => "disconnect",
        _ => "unknown",
    };
    Answer::error(endpoint, StatusCode::UNAUTHORIZED, "missing or unknown key").send(&state)
}

/// The request's JSON body, or the answer that refuses a malformed one.
fn json_body<T>(
    state: &ApiState,
    endpoint: &'static str,
    request: Result<Json<T>, JsonRejection>,
) -> Result<T, Box<Response>> {
    request.map(|Json(body)| body).map_err(|rejection| {
        Box::new(
            Answer::error(endpoint, StatusCode::BAD_REQUEST, &rejection.body_text()).send(state),
        )
    })
}

fn namespace(io: &SocketIo, name: &str) -> Option<Namespace> {
    io.namespaces().into_iter().find(|ns| ns.name() == name)
}

fn default_namespace() -> String {
    "/".to_owned()
}

/// `POST /api/v1/emit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmitRequest {
    #[serde(default = "default_namespace")]
    namespace: String,
    #[serde(default)]
    rooms: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    event: String,
    data: Option<serde_json::Value>,
    args: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    volatile: bool,
}

fn to_value(json: serde_json::Value) -> Result<Value, String> {
    serde_json::from_value(json).map_err(|error| error.to_string())
}

/// Emits an event to the sockets of a namespace that the rooms designate (all if none).
pub(crate) async fn emit(
    State(state): State<ApiState>,
    request: Result<Json<EmitRequest>, JsonRejection>,
) -> Response {
    const ENDPOINT: &str = "emit";
    let request = match json_body(&state, ENDPOINT, request) {
        Ok(request) => request,
        Err(refusal) => return *refusal,
    };
    let args = match (request.data, request.args) {
        (Some(_), Some(_)) => Err("give `data` or `args`, not both".to_owned()),
        (Some(data), None) => to_value(data).map(|value| vec![value]),
        (None, Some(args)) => args.into_iter().map(to_value).collect(),
        (None, None) => Ok(Vec::new()),
    };
    let args = match args {
        Ok(args) => Args::from_values(args),
        Err(message) => {
            return Answer::error(ENDPOINT, StatusCode::BAD_REQUEST, &message).send(&state);
        }
    };
    let Some(ns) = namespace(&state.io, &request.namespace) else {
        let Some(emitter) = &state.emitter else {
            // No client has joined it yet: nobody to reach.
            return Answer::ok(ENDPOINT, json!({ "ok": true, "sockets": 0 })).send(&state);
        };
        // None here, maybe some on the other nodes: how many is not known.
        let mut emitter = emitter
            .of(&request.namespace)
            .to(request.rooms.clone())
            .except(request.except.clone());
        if request.volatile {
            emitter = emitter.volatile();
        }
        return match emitter.emit_args(&request.event, &args).await {
            Ok(()) => Answer::ok(ENDPOINT, json!({ "ok": true, "sockets": null })).send(&state),
            Err(error @ socketio_redis::EmitterError::ReservedEvent(_)) => {
                Answer::error(ENDPOINT, StatusCode::BAD_REQUEST, &error.to_string()).send(&state)
            }
            Err(error) => Answer::error(
                ENDPOINT,
                StatusCode::SERVICE_UNAVAILABLE,
                &error.to_string(),
            )
            .send(&state),
        };
    };
    let mut operator = ns.to(request.rooms.clone()).except(request.except.clone());
    if request.volatile {
        operator = operator.volatile();
    }
    let reached = operator.fetch_sockets().await.len();
    match operator.emit_raw(&request.event, &args) {
        Ok(()) => Answer::ok(ENDPOINT, json!({ "ok": true, "sockets": reached })).send(&state),
        Err(error @ EmitError::ReservedEvent(_)) => {
            Answer::error(ENDPOINT, StatusCode::BAD_REQUEST, &error.to_string()).send(&state)
        }
        // Delivered here, not to the other nodes: the backend should know and retry.
        Err(error @ EmitError::Cluster(_)) => Answer::error(
            ENDPOINT,
            StatusCode::SERVICE_UNAVAILABLE,
            &error.to_string(),
        )
        .send(&state),
        Err(error) => Answer::error(
            ENDPOINT,
            StatusCode::INTERNAL_SERVER_ERROR,
            &error.to_string(),
        )
        .send(&state),
    }
}

/// The namespace (and room) of a listing.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default = "default_namespace")]
    namespace: String,
    room: Option<String>,
}

/// `GET /api/v1/sockets`: the sockets of a namespace (in a room), with their rooms and data.
pub(crate) async fn sockets(
    State(state): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Response {
    const ENDPOINT: &str = "sockets";
    let Some(ns) = namespace(&state.io, &query.namespace) else {
        return Answer::ok(ENDPOINT, json!({ "sockets": [] })).send(&state);
    };
    let operator = match query.room {
        Some(room) => ns.to(room),
        None => ns.except(Vec::<String>::new()),
    };
    let sockets: Vec<serde_json::Value> = operator
        .fetch_sockets()
        .await
        .iter()
        .map(|socket| {
            json!({
                "id": socket.id().as_str(),
                "rooms": socket.rooms(),
                "data": serde_json::to_value(socket.data::<Value>()).unwrap_or_default(),
            })
        })
        .collect();
    Answer::ok(ENDPOINT, json!({ "sockets": sockets })).send(&state)
}

/// `GET /api/v1/rooms`: the rooms of a namespace with their sizes (sockets' own rooms
/// left out).
pub(crate) async fn rooms(
    State(state): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Response {
    const ENDPOINT: &str = "rooms";
    let Some(ns) = namespace(&state.io, &query.namespace) else {
        return Answer::ok(ENDPOINT, json!({ "rooms": [] })).send(&state);
    };
    let ids: HashSet<String> = ns
        .sockets()
        .iter()
        .map(|socket| socket.id().as_str().to_owned())
        .collect();
    let mut rooms: Vec<serde_json::Value> = ns
        .rooms()
        .into_iter()
        .filter(|room| !ids.contains(room))
        .map(|room| json!({ "sockets": ns.room_size(&room), "room": room }))
        .collect();
    rooms.sort_by(|a, b| a["room"].as_str().cmp(&b["room"].as_str()));
    Answer::ok(ENDPOINT, json!({ "rooms": rooms })).send(&state)
}

/// `POST /api/v1/disconnect`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DisconnectRequest {
    #[serde(default = "default_namespace")]
    namespace: String,
    /// Rooms (a socket id is a room) whose sockets to disconnect; none means all.
    #[serde(default)]
    rooms: Vec<String>,
    /// Close the clients' whole connections, not just this namespace.
    #[serde(default)]
    close: bool,
}

/// Disconnects the sockets of a namespace that the rooms designate.
pub(crate) async fn disconnect(
    State(state): State<ApiState>,
    request: Result<Json<DisconnectRequest>, JsonRejection>,
) -> Response {
    const ENDPOINT: &str = "disconnect";
    let request = match json_body(&state, ENDPOINT, request) {
        Ok(request) => request,
        Err(refusal) => return *refusal,
    };
    let Some(ns) = namespace(&state.io, &request.namespace) else {
        return Answer::ok(ENDPOINT, json!({ "disconnected": 0 })).send(&state);
    };
    let operator = ns.to(request.rooms);
    let count = operator.fetch_sockets().await.len();
    operator.disconnect_sockets(request.close);
    Answer::ok(ENDPOINT, json!({ "disconnected": count })).send(&state)
}
