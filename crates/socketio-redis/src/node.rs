//! The request/response layer, written once for every wire format: one [`Node`] per
//! namespace implements [`socketio::Adapter`] (what this server asks of the others, and
//! gathering their answers) and applies to the namespace's local sockets what the others
//! ask of it. Encoding is the [`Codec`]'s; transport the [`Link`]'s.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use socketio::{
    Adapter, AdapterError, Args, BoxFuture, BroadcastMessage, BroadcastOperator,
    ConnectionStateRecovery, Handshake, MemorySessionStore, Namespace, RemoteAcks, RemoteSocket,
    RemoteSocketData, RoomEvent, SessionFetch, SessionStore, SocketId, Target, Value,
    WeakNamespace,
};
use tokio::sync::mpsc;

use crate::error::RedisAdapterError;
use crate::link::Link;
use crate::pubsub::MessageHandler;
use crate::streams::{StreamLog, StreamStore};
use crate::wire::{Codec, EventData, Incoming, Opts, Request, Response, object};

/// Answers buffered per pending request at most (more are dropped: a request expects
/// one or a few per server).
const ANSWERS_PER_REQUEST: usize = 4096;

pub(crate) struct Node {
    ns: WeakNamespace,
    uid: String,
    codec: Box<dyn Codec>,
    link: Arc<Link>,
    /// The stream of the streams adapter, which orders this server's replayable packets.
    log: Option<Arc<StreamLog>>,
    pending: Mutex<HashMap<String, mpsc::Sender<Response>>>,
    requests_timeout: Duration,
}

/// A random id of 16 hex digits (as Node's `ClusterAdapter` makes them).
pub(crate) fn random_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

impl Node {
    /// The adapter of `ns`, subscribed (asynchronously) to what it needs.
    pub(crate) fn start(
        ns: &Namespace,
        uid: String,
        codec: Box<dyn Codec>,
        link: Arc<Link>,
        log: Option<Arc<StreamLog>>,
        requests_timeout: Duration,
    ) -> Arc<Node> {
        let node = Arc::new(Node {
            ns: ns.downgrade(),
            uid,
            codec,
            link,
            log,
            pending: Mutex::default(),
            requests_timeout,
        });
        if let Some(log) = &node.log {
            log.register(ns.name(), &node);
        }
        let handler = Node::handler(Arc::downgrade(&node));
        for subscription in node.codec.subscriptions() {
            node.link.subscribe(subscription, handler.clone());
        }
        let rooms = Arc::downgrade(&node);
        ns.on_room_event(move |event| {
            let Some(node) = rooms.upgrade() else { return };
            match event {
                RoomEvent::Create(room) => {
                    let is_id = SocketId::parse(room).is_some();
                    if let Some(subscription) = node.codec.room_subscription(room, is_id) {
                        node.link
                            .subscribe(subscription, Node::handler(Arc::downgrade(&node)));
                    }
                }
                RoomEvent::Delete(room) => {
                    let is_id = SocketId::parse(room).is_some();
                    if let Some(subscription) = node.codec.room_subscription(room, is_id) {
                        node.link.unsubscribe(subscription);
                    }
                }
                _ => {}
            }
        });
        node
    }

    fn handler(node: Weak<Node>) -> MessageHandler {
        Arc::new(move |channel: &str, payload: &[u8]| {
            if let Some(node) = node.upgrade() {
                node.on_message(channel, payload);
            }
        })
    }

    // ----- what the others ask of this server -----

    fn on_message(self: &Arc<Self>, channel: &str, payload: &[u8]) {
        self.link.counters.received.fetch_add(1, Ordering::Relaxed);
        match self.codec.decode(channel, payload) {
            Some(Incoming::Response(response)) => {
                let waiter = self
                    .pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(response.request_id())
                    .cloned();
                if let Some(waiter) = waiter {
                    let _ = waiter.try_send(response);
                }
            }
            Some(Incoming::Request { uid, request }) if uid != self.uid => {
                if let Some(ns) = self.ns.upgrade() {
                    self.apply(&ns, &uid, request);
                }
            }
            _ => {}
        }
    }

    /// An entry of the stream at `offset` (its id `id`): this server's own replayable
    /// broadcasts are delivered here too, in the stream's order.
    pub(crate) fn on_entry(self: &Arc<Self>, offset: u64, id: &str, fields: &[(String, Vec<u8>)]) {
        let Some(Incoming::Request { uid, request }) = self.codec.decode_entry(fields) else {
            return;
        };
        let Some(ns) = self.ns.upgrade() else { return };
        let own = uid == self.uid;
        if !own {
            self.link.counters.received.fetch_add(1, Ordering::Relaxed);
        }
        match request {
            Request::Broadcast { data, opts } => {
                // Ours were delivered when emitted unless they are replayable.
                if own && (opts.volatile || !ns.recovers()) {
                    return;
                }
                let args = Args::from_values(data.args);
                if let Err(error) = Self::local(&ns, &opts).emit_raw_at(offset, &data.event, &args)
                {
                    tracing::debug!(%error, id, "broadcast of the stream not delivered");
                }
            }
            _ if own => {}
            request => self.apply(&ns, &uid, request),
        }
    }

    /// Sends a request to the other servers: appended to the stream if the format says
    /// so, published otherwise.
    fn send_request(&self, what: &'static str, request: &Request) -> Result<(), RedisAdapterError> {
        if let Some(log) = &self.log
            && let Some(fields) = self.codec.entry(request)
        {
            return log.append(what, fields);
        }
        self.link.send(what, self.codec.encode_request(request))
    }

    fn local(ns: &Namespace, opts: &Opts) -> BroadcastOperator {
        let operator = ns
            .local()
            .to(opts.rooms.as_slice())
            .except(opts.except.as_slice());
        if opts.volatile {
            operator.volatile()
        } else {
            operator
        }
    }

    fn respond(&self, requester: &str, response: &Response) {
        let publish = self.codec.encode_response(requester, response);
        if let Err(error) = self.link.send("response", publish) {
            tracing::debug!(%error, "response to another server not sent");
        }
    }

    fn apply(self: &Arc<Self>, ns: &Namespace, requester: &str, request: Request) {
        match request {
            Request::Broadcast { data, opts } => {
                let args = Args::from_values(data.args);
                let _ = Self::local(ns, &opts).emit_raw(&data.event, &args);
            }
            Request::BroadcastWithAck {
                request_id,
                data,
                opts,
            } => {
                let mut operator = Self::local(ns, &opts);
                if let Some(ms) = opts.timeout_ms {
                    operator = operator.timeout(Duration::from_millis(ms));
                }
                let args = Args::from_values(data.args);
                let Ok(mut acks) = operator.emit_raw_with_local_acks(&data.event, &args) else {
                    return;
                };
                let node = self.clone();
                let requester = requester.to_owned();
                tokio::spawn(async move {
                    node.respond(
                        &requester,
                        &Response::ClientCount {
                            request_id: request_id.clone(),
                            count: acks.expected() as u64,
                        },
                    );
                    while let Some(answer) = acks.next().await {
                        let answer = first_value(&answer);
                        let request_id = request_id.clone();
                        node.respond(&requester, &Response::Ack { request_id, answer });
                    }
                });
            }
            Request::SocketsJoin { opts, rooms } => Self::local(ns, &opts).sockets_join(rooms),
            Request::SocketsLeave { opts, rooms } => Self::local(ns, &opts).sockets_leave(rooms),
            Request::DisconnectSockets { opts, close } => {
                Self::local(ns, &opts).disconnect_sockets(close);
            }
            Request::FetchSockets { request_id, opts } => {
                let operator = Self::local(ns, &opts);
                let node = self.clone();
                let requester = requester.to_owned();
                tokio::spawn(async move {
                    let sockets = operator
                        .fetch_sockets()
                        .await
                        .iter()
                        .map(describe)
                        .collect();
                    let response = Response::FetchSockets {
                        request_id,
                        sockets,
                    };
                    node.respond(&requester, &response);
                });
            }
            Request::ServerSideEmit { request_id, data } => {
                let answers = ns.receive_server_side(&data.event, &Args::from_values(data.args));
                if let (Some(request_id), Some(answer)) = (request_id, answers.first()) {
                    let answer = first_value(answer);
                    self.respond(requester, &Response::ServerSideEmit { request_id, answer });
                }
            }
            Request::SocketIds { request_id, rooms } => {
                let target = Target {
                    rooms,
                    except: Vec::new(),
                };
                let ids = ns
                    .sockets()
                    .into_iter()
                    .filter(|socket| target.includes(&socket.rooms()))
                    .map(|socket| socket.id().as_str().to_owned())
                    .collect();
                self.respond(requester, &Response::SocketIds { request_id, ids });
            }
            Request::AllRooms { request_id } => {
                let rooms = ns.rooms();
                self.respond(requester, &Response::Rooms { request_id, rooms });
            }
        }
    }

    // ----- what this server asks of the others -----

    /// How many other servers there are (subscribers of the count channel, minus this
    /// one).
    async fn other_servers(&self) -> Result<usize, RedisAdapterError> {
        if !self.link.pubsub.is_connected() {
            return Err(self.link.refuse("server count", "Redis is unreachable"));
        }
        let channel = self.codec.count_channel();
        let count = self
            .link
            .pubsub
            .subscriber_count(channel.shard, &channel.channel)
            .await
            .map_err(|error| RedisAdapterError::Publish {
                operation: "server count",
                reason: error.to_string(),
            })?;
        Ok(count.saturating_sub(1))
    }

    /// Registers a request before it is sent; its answers arrive on the receiver until
    /// the guard drops.
    fn expect(self: &Arc<Self>, request_id: &str) -> PendingRequest {
        let (sender, answers) = mpsc::channel(ANSWERS_PER_REQUEST);
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(request_id.to_owned(), sender);
        PendingRequest {
            node: self.clone(),
            request_id: request_id.to_owned(),
            answers,
        }
    }

    fn timed_out(&self) {
        self.link
            .counters
            .request_timeouts
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Sends a request and gathers one answer per other server (`pick` keeps the ones it
    /// is for) within the requests timeout.
    async fn gather(
        self: &Arc<Self>,
        operation: &'static str,
        make: impl FnOnce(String) -> Request,
        pick: impl Fn(Response) -> Option<Vec<Value>>,
    ) -> Result<(Vec<Value>, usize), RedisAdapterError> {
        let expected = self.other_servers().await?;
        if expected == 0 {
            return Ok((Vec::new(), 0));
        }
        let request_id = random_id();
        let mut pending = self.expect(&request_id);
        let publish = self.codec.encode_request(&make(request_id));
        self.link.send_and_wait(operation, publish).await?;
        let deadline = tokio::time::Instant::now() + self.requests_timeout;
        let mut gathered = Vec::new();
        let mut received = 0;
        while received < expected {
            match tokio::time::timeout_at(deadline, pending.answers.recv()).await {
                Ok(Some(response)) => {
                    if let Some(values) = pick(response) {
                        received += 1;
                        gathered.extend(values);
                    }
                }
                _ => {
                    self.timed_out();
                    return Err(RedisAdapterError::Timeout {
                        operation,
                        responses: gathered
                            .into_iter()
                            .map(|value| Args::from_values(vec![value]))
                            .collect(),
                        received,
                        expected,
                    });
                }
            }
        }
        Ok((gathered, received))
    }
}

/// An acknowledgement's first argument (what Node forwards between servers).
fn first_value(args: &Args) -> Value {
    args.to_values()
        .ok()
        .and_then(|values| values.into_iter().next())
        .unwrap_or_default()
}

/// A local socket as the other servers' `fetchSockets` receive it:
/// `{id, handshake, rooms, data}`.
fn describe(socket: &RemoteSocket) -> Value {
    let rooms = socket
        .rooms()
        .iter()
        .map(|room| Value::from(room.as_str()))
        .collect();
    object([
        ("id", Value::from(socket.id().as_str())),
        (
            "handshake",
            socket.handshake().map(handshake).unwrap_or_default(),
        ),
        ("rooms", Value::Array(rooms)),
        ("data", socket.data::<Value>().unwrap_or_default()),
    ])
}

/// Node's `socket.handshake`, as far as this server knows it.
fn handshake(handshake: &Handshake) -> Value {
    let mut headers = socketio::Map::new();
    for (name, value) in handshake.headers() {
        if let Ok(value) = value.to_str() {
            headers.insert(name.as_str().to_owned(), Value::from(value));
        }
    }
    let mut query = socketio::Map::new();
    for pair in handshake.url().query().unwrap_or_default().split('&') {
        if let Some((name, value)) = pair.split_once('=') {
            query.insert(name.to_owned(), Value::from(value));
        }
    }
    let address = handshake
        .address()
        .map(|address| Value::from(address.ip().to_string()))
        .unwrap_or_default();
    object([
        ("headers", Value::Object(headers)),
        ("address", address),
        ("xdomain", Value::Bool(handshake.xdomain())),
        ("secure", Value::Bool(false)),
        ("issued", Value::from(handshake.issued_millis())),
        ("url", Value::from(handshake.url().to_string())),
        ("query", Value::Object(query)),
        ("auth", handshake.auth().clone()),
    ])
}

struct PendingRequest {
    node: Arc<Node>,
    request_id: String,
    answers: mpsc::Receiver<Response>,
}

impl Drop for PendingRequest {
    fn drop(&mut self) {
        self.node
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.request_id);
    }
}

fn opts_of(target: &Target, volatile: bool, timeout: Option<Duration>) -> Opts {
    Opts {
        rooms: target.rooms.clone(),
        except: target.except.clone(),
        volatile,
        timeout_ms: timeout.map(|t| t.as_millis() as u64),
    }
}

fn event_of(message: &BroadcastMessage) -> Result<EventData, AdapterError> {
    let args = message
        .args
        .to_values()
        .map_err(|error| AdapterError(Box::new(error)))?;
    Ok(EventData {
        event: message.event.clone(),
        args,
    })
}

/// [`Node`] as the namespace's adapter.
pub(crate) struct NodeAdapter(pub(crate) Arc<Node>);

impl Adapter for NodeAdapter {
    fn is_cluster(&self) -> bool {
        true
    }

    fn server_count(&self) -> BoxFuture<usize> {
        let node = self.0.clone();
        Box::pin(async move {
            match node.other_servers().await {
                Ok(others) => others + 1,
                Err(error) => {
                    tracing::warn!(%error, "server count unknown; counting this one only");
                    1
                }
            }
        })
    }

    fn broadcast(&self, message: &BroadcastMessage) -> Result<(), AdapterError> {
        let request = Request::Broadcast {
            data: event_of(message)?,
            opts: opts_of(&message.target, message.volatile, None),
        };
        Ok(self.0.send_request("broadcast", &request)?)
    }

    fn sequences_broadcasts(&self) -> bool {
        self.0.log.is_some()
    }

    fn session_store(&self, config: &ConnectionStateRecovery) -> Box<dyn SessionStore> {
        match &self.0.log {
            Some(log) => Box::new(StreamStore::new(config, log.clone())),
            None => Box::new(MemorySessionStore::new(config)),
        }
    }

    fn fetch_session(
        &self,
        config: &ConnectionStateRecovery,
        pid: &str,
        offset: Option<&str>,
    ) -> Option<SessionFetch> {
        let log = self.0.log.clone()?;
        let node = self.0.clone();
        let (pid, offset) = (pid.to_owned(), offset.map(str::to_owned));
        let max_missed = config.max_missed_packets;
        Some(Box::pin(async move {
            let ns = node.ns.upgrade()?;
            let reader = crate::streams::Reader {
                log: &log,
                codec: &*node.codec,
                nsp: ns.name(),
                parser: ns.parser(),
                max_missed,
            };
            reader.fetch(&pid, offset.as_deref()).await
        }))
    }

    fn broadcast_with_ack(
        &self,
        message: &BroadcastMessage,
        _ack_id: u64,
        timeout: Duration,
    ) -> BoxFuture<Result<RemoteAcks, AdapterError>> {
        let node = self.0.clone();
        let data = event_of(message);
        let opts = opts_of(&message.target, message.volatile, Some(timeout));
        Box::pin(async move {
            let data = data?;
            let servers = node.other_servers().await?;
            if servers == 0 {
                return Ok(RemoteAcks::default());
            }
            let request_id = random_id();
            let mut pending = node.expect(&request_id);
            let request = Request::BroadcastWithAck {
                request_id,
                data,
                opts,
            };
            let publish = node.codec.encode_request(&request);
            node.link
                .send_and_wait("broadcast with acks", publish)
                .await?;
            let deadline = tokio::time::Instant::now() + timeout;
            let (mut counted, mut expected, mut responses) = (0, 0usize, Vec::new());
            while counted < servers || responses.len() < expected {
                match tokio::time::timeout_at(deadline, pending.answers.recv()).await {
                    Ok(Some(Response::ClientCount { count, .. })) => {
                        counted += 1;
                        expected += count as usize;
                    }
                    Ok(Some(Response::Ack { answer, .. })) => {
                        responses.push(Args::from_values(vec![answer]));
                    }
                    Ok(Some(_)) => {}
                    _ => {
                        node.timed_out();
                        // A server that did not say how many sockets it reached still
                        // owes answers: the broadcast is incomplete.
                        expected = expected.max(responses.len() + 1);
                        break;
                    }
                }
            }
            Ok(RemoteAcks {
                expected,
                responses,
            })
        })
    }

    fn fetch_sockets(
        &self,
        _namespace: &str,
        target: &Target,
    ) -> BoxFuture<Result<Vec<RemoteSocketData>, AdapterError>> {
        let node = self.0.clone();
        let opts = opts_of(target, false, None);
        Box::pin(async move {
            let (sockets, _) = node
                .gather(
                    "fetch_sockets",
                    |request_id| Request::FetchSockets { request_id, opts },
                    |response| match response {
                        Response::FetchSockets { sockets, .. } => Some(sockets),
                        _ => None,
                    },
                )
                .await?;
            Ok(sockets
                .into_iter()
                .filter_map(|socket| {
                    Some(RemoteSocketData {
                        id: socket.get("id")?.as_str()?.to_owned(),
                        rooms: crate::wire::strings(socket.get("rooms")),
                        data: socket.get("data").cloned().unwrap_or_default(),
                    })
                })
                .collect())
        })
    }

    fn add_sockets(&self, _namespace: &str, target: &Target, rooms: &[String]) {
        let request = Request::SocketsJoin {
            opts: opts_of(target, false, None),
            rooms: rooms.to_vec(),
        };
        if let Err(error) = self.0.send_request("sockets_join", &request) {
            tracing::warn!(%error);
        }
    }

    fn del_sockets(&self, _namespace: &str, target: &Target, rooms: &[String]) {
        let request = Request::SocketsLeave {
            opts: opts_of(target, false, None),
            rooms: rooms.to_vec(),
        };
        if let Err(error) = self.0.send_request("sockets_leave", &request) {
            tracing::warn!(%error);
        }
    }

    fn disconnect_sockets(&self, _namespace: &str, target: &Target, close: bool) {
        let request = Request::DisconnectSockets {
            opts: opts_of(target, false, None),
            close,
        };
        if let Err(error) = self.0.send_request("disconnect_sockets", &request) {
            tracing::warn!(%error);
        }
    }

    fn server_side_emit(
        &self,
        _namespace: &str,
        event: &str,
        args: &Args,
    ) -> BoxFuture<Result<Vec<Args>, AdapterError>> {
        let node = self.0.clone();
        let data = args.to_values().map(|args| EventData {
            event: event.to_owned(),
            args,
        });
        Box::pin(async move {
            let data = data.map_err(|error| AdapterError(Box::new(error)))?;
            let (answers, _) = node
                .gather(
                    "server_side_emit",
                    |request_id| Request::ServerSideEmit {
                        request_id: Some(request_id),
                        data,
                    },
                    |response| match response {
                        Response::ServerSideEmit { answer, .. } => Some(vec![answer]),
                        _ => None,
                    },
                )
                .await?;
            Ok(answers
                .into_iter()
                .map(|answer| Args::from_values(vec![answer]))
                .collect())
        })
    }
}
