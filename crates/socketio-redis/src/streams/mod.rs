//! The log of the streams adapter (`@socket.io/redis-streams-adapter`): one Redis stream
//! the servers of a cluster append their durable messages to and all read, in one order.
//!
//! Where this goes further than Node: a server delivers its own broadcasts when it reads
//! them back from the stream, not when it appends them, so every server delivers every
//! replayable packet in the stream's order, and the offset a client reports (the entry id
//! of the last packet it received) covers exactly what it received, whichever server it
//! was on. Node delivers its own broadcasts first, so a client may receive a later entry
//! before an earlier one and lose the earlier one on recovery.

mod session;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use crate::error::RedisAdapterError;
use crate::link::{Link, QUEUE_CAPACITY};
use crate::node::Node;
use crate::redis_pubsub::{Connection, RedisPubSub};
use crate::wire::streams::Fields;

pub(crate) use session::{Reader, StreamStore, parse_entry_id};

/// Options of the streams adapter, with `@socket.io/redis-streams-adapter`'s defaults.
///
/// ```
/// use socketio_redis::StreamsOptions;
///
/// let options = StreamsOptions {
///     stream_name: "my-app".into(),
///     channel_prefix: "my-app".into(),
///     session_key_prefix: "my-app:session:".into(),
///     ..StreamsOptions::default()
/// };
/// # let _ = options;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamsOptions {
    /// The stream (Node's `streamName`, `socket.io` by default; one stream, Node's
    /// `streamCount` 1).
    pub stream_name: String,
    /// The prefix of the pub/sub channels (Node's `channelPrefix`, `socket.io`).
    pub channel_prefix: String,
    /// The prefix of the keys of disconnected sessions (Node's `sessionKeyPrefix`,
    /// `sio:session:`).
    pub session_key_prefix: String,
    /// The stream's length, trimmed with `MAXLEN ~` (Node's `maxLen`, 10 000). A client
    /// whose offset was trimmed gets a fresh session.
    pub max_len: usize,
    /// Entries read per `XREAD` (Node's `readCount`, 100).
    pub read_count: usize,
    /// How long one `XREAD` blocks (Node's `blockTimeInMs`, 5 s).
    pub block_time: Duration,
}

impl Default for StreamsOptions {
    fn default() -> Self {
        StreamsOptions {
            stream_name: "socket.io".into(),
            channel_prefix: "socket.io".into(),
            session_key_prefix: "sio:session:".into(),
            max_len: 10_000,
            read_count: 100,
            block_time: Duration::from_secs(5),
        }
    }
}

/// A write to Redis besides publishes: kept in order, sent in pipelined batches.
enum Write {
    Append(Fields),
    Session {
        key: String,
        value: String,
        ttl: Duration,
    },
    /// Answered once every write before it was sent.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// A stream entry as read: its id and its fields.
pub(crate) type Entry = (String, Vec<(String, Vec<u8>)>);

/// Writes sent in one pipeline at most.
const BATCH: usize = 256;
/// Entries read per `XRANGE` of a restore, and `XRANGE` calls per restore at most (as
/// Node, which stops after 100).
const RANGE_COUNT: usize = 1000;
const RANGE_CALLS: usize = 100;

/// One server's side of the stream, shared by its namespaces.
pub(crate) struct StreamLog {
    pub(crate) redis: RedisPubSub,
    pub(crate) options: StreamsOptions,
    link: Arc<Link>,
    writes: mpsc::Sender<Write>,
    /// The id (as [`entry_id`] numbers them) of the last entry read: where the log is.
    tip: AtomicU64,
    reading: AtomicBool,
    started: Notify,
    nodes: Mutex<HashMap<String, Weak<Node>>>,
}

impl StreamLog {
    /// Starts the writer and the reader on the current Tokio runtime.
    pub(crate) fn start(redis: RedisPubSub, options: StreamsOptions, link: Arc<Link>) -> Arc<Self> {
        let (writes, written) = mpsc::channel(QUEUE_CAPACITY);
        let log = Arc::new(StreamLog {
            redis,
            options,
            link,
            writes,
            tip: AtomicU64::new(0),
            reading: AtomicBool::new(false),
            started: Notify::new(),
            nodes: Mutex::default(),
        });
        tokio::spawn(write(Arc::downgrade(&log), written));
        tokio::spawn(read(Arc::downgrade(&log)));
        log
    }

    /// Routes the stream's entries of `nsp` to `node`.
    pub(crate) fn register(&self, nsp: &str, node: &Arc<Node>) {
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(nsp.to_owned(), Arc::downgrade(node));
    }

    /// Where the log is: the last entry read.
    pub(crate) fn tip(&self) -> u64 {
        self.tip.load(Ordering::Acquire)
    }

    /// Waits until the reader knows where the stream ends (and reads what follows).
    pub(crate) async fn started(&self) {
        loop {
            let notified = self.started.notified();
            if self.reading.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    fn enqueue(&self, what: &'static str, write: Write) -> Result<(), RedisAdapterError> {
        use crate::pubsub::PubSub as _;
        if !self.redis.is_connected() {
            return Err(self.link.refuse(what, "Redis is unreachable"));
        }
        self.writes
            .try_send(write)
            .map_err(|_| self.link.refuse(what, "the publish queue is full"))
    }

    /// Appends a durable message to the stream (in order with every other write).
    pub(crate) fn append(
        &self,
        what: &'static str,
        fields: Fields,
    ) -> Result<(), RedisAdapterError> {
        self.enqueue(what, Write::Append(fields))
    }

    /// Keeps a disconnected session for `ttl` (`SET key value PX ttl`).
    pub(crate) fn keep_session(&self, pid: &str, value: String, ttl: Duration) {
        let key = format!("{}{pid}", self.options.session_key_prefix);
        if let Err(error) = self.enqueue("session", Write::Session { key, value, ttl }) {
            tracing::warn!(%error, "session not kept in Redis; it recovers on this server only");
        }
    }

    /// Waits until every write queued so far was sent (or failed).
    pub(crate) async fn flush(&self) {
        let (done, flushed) = tokio::sync::oneshot::channel();
        if self.writes.send(Write::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }

    fn command(&self, write: Write) -> Option<redis::Cmd> {
        Some(match write {
            Write::Append(fields) => xadd(&self.options, fields),
            Write::Session { key, value, ttl } => {
                let mut command = redis::cmd("SET");
                command
                    .arg(key)
                    .arg(value)
                    .arg("PX")
                    .arg(ttl.as_millis().max(1) as u64);
                command
            }
            Write::Flush(_) => return None,
        })
    }

    /// Entries of the stream from `start` (inclusive, an id's text) on, `count` at most.
    pub(crate) async fn range(&self, start: &str, count: usize) -> redis::RedisResult<Vec<Entry>> {
        let mut command = redis::cmd("XRANGE");
        command
            .arg(&self.options.stream_name)
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(count);
        let value: redis::Value = self.redis.commands().query(&command).await?;
        Ok(entries(&value))
    }

    /// Takes a session out of Redis (`GETDEL`).
    pub(crate) async fn take_session(&self, pid: &str) -> redis::RedisResult<Option<String>> {
        let key = format!("{}{pid}", self.options.session_key_prefix);
        self.redis
            .commands()
            .query(redis::cmd("GETDEL").arg(key))
            .await
    }

    fn dispatch(&self, id: &str, fields: &[(String, Vec<u8>)]) {
        let Some(offset) = parse_entry_id(id) else {
            return;
        };
        let node = crate::wire::streams::StreamsCodec::namespace_of(fields).and_then(|nsp| {
            self.nodes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(nsp)
                .and_then(Weak::upgrade)
        });
        if let Some(node) = node {
            node.on_entry(offset, id, fields);
        }
        self.tip.fetch_max(offset, Ordering::AcqRel);
    }
}

/// `XADD stream MAXLEN ~ max_len * field value ...`, as Node appends.
pub(crate) fn xadd(options: &StreamsOptions, fields: Fields) -> redis::Cmd {
    let mut command = redis::cmd("XADD");
    command
        .arg(&options.stream_name)
        .arg("MAXLEN")
        .arg("~")
        .arg(options.max_len)
        .arg("*");
    for (name, value) in fields {
        command.arg(name).arg(value);
    }
    command
}

/// The entries of an `XRANGE` answer, or of the one stream of an `XREAD` answer (RESP2
/// arrays or RESP3 maps).
fn entries(value: &redis::Value) -> Vec<Entry> {
    use redis::Value as V;
    let text = |value: &V| match value {
        V::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        V::SimpleString(text) => Some(text.clone()),
        _ => None,
    };
    let bytes = |value: &V| match value {
        V::BulkString(bytes) => Some(bytes.clone()),
        V::SimpleString(text) => Some(text.clone().into_bytes()),
        _ => None,
    };
    let V::Array(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let V::Array(pair) = item else { return None };
            let id = text(pair.first()?)?;
            let fields = match pair.get(1)? {
                V::Array(flat) => flat
                    .chunks(2)
                    .filter_map(|kv| Some((text(kv.first()?)?, bytes(kv.get(1)?)?)))
                    .collect(),
                V::Map(pairs) => pairs
                    .iter()
                    .filter_map(|(k, v)| Some((text(k)?, bytes(v)?)))
                    .collect(),
                _ => return None,
            };
            Some((id, fields))
        })
        .collect()
}

/// The entries of an `XREAD` answer for one stream.
fn read_entries(value: &redis::Value) -> Vec<Entry> {
    use redis::Value as V;
    match value {
        V::Array(streams) => match streams.first() {
            Some(V::Array(stream)) => stream.get(1).map(entries).unwrap_or_default(),
            _ => Vec::new(),
        },
        V::Map(streams) => streams
            .first()
            .map(|(_, stream)| entries(stream))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Drains the writes in order, in pipelined batches.
async fn write(log: Weak<StreamLog>, mut written: mpsc::Receiver<Write>) {
    let mut batch = Vec::with_capacity(BATCH);
    while written.recv_many(&mut batch, BATCH).await > 0 {
        let Some(log) = log.upgrade() else { return };
        let mut flushed = Vec::new();
        let mut commands = Vec::with_capacity(batch.len());
        for write in batch.drain(..) {
            match write {
                Write::Flush(done) => flushed.push(done),
                write => commands.extend(log.command(write)),
            }
        }
        let count = commands.len() as u64;
        let counters = &log.link.counters;
        if count > 0 {
            match log.redis.commands().run_all(commands).await {
                Ok(()) => counters.published.fetch_add(count, Ordering::Relaxed),
                Err(error) => {
                    tracing::warn!(%error, count, "messages not appended to the stream");
                    counters.publish_errors.fetch_add(count, Ordering::Relaxed)
                }
            };
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

/// Reads the stream from its end at start, then from the last entry read, through
/// outages: entries appended while Redis was away from this server are read when it is
/// back.
async fn read(log: Weak<StreamLog>) {
    const RETRY: Duration = Duration::from_millis(500);
    let (mut connection, stream, count, block): (Connection, String, usize, Duration) = loop {
        let Some(strong) = log.upgrade() else { return };
        let block = strong.options.block_time;
        match strong.redis.dedicated(block + Duration::from_secs(3)).await {
            Ok(connection) => {
                let stream = strong.options.stream_name.clone();
                break (connection, stream, strong.options.read_count.max(1), block);
            }
            Err(error) => tracing::debug!(%error, "stream reader not connected yet"),
        }
        drop(strong);
        tokio::time::sleep(RETRY).await;
    };
    let mut last = loop {
        let mut command = redis::cmd("XREVRANGE");
        command.arg(&stream).arg("+").arg("-").arg("COUNT").arg(1);
        match connection.query::<redis::Value>(&command).await {
            Ok(value) => {
                break entries(&value)
                    .into_iter()
                    .next()
                    .map_or_else(|| "0-0".to_owned(), |(id, _)| id);
            }
            Err(error) => tracing::debug!(%error, "stream end unknown yet"),
        }
        if log.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(RETRY).await;
    };
    {
        let Some(strong) = log.upgrade() else { return };
        strong
            .tip
            .store(parse_entry_id(&last).unwrap_or(0), Ordering::Release);
        strong.reading.store(true, Ordering::Release);
        strong.started.notify_waiters();
    }
    loop {
        let mut command = redis::cmd("XREAD");
        command
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&stream)
            .arg(&last);
        let answer = connection.query::<redis::Value>(&command).await;
        let Some(strong) = log.upgrade() else { return };
        match answer {
            Ok(value) => {
                for (id, fields) in read_entries(&value) {
                    strong.dispatch(&id, &fields);
                    last = id;
                }
            }
            Err(error) => {
                tracing::debug!(%error, "stream not read; trying again");
                drop(strong);
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// How many `XRANGE` calls of [`RANGE_COUNT`] entries a restore makes at most.
pub(crate) const fn range_limits() -> (usize, usize) {
    (RANGE_COUNT, RANGE_CALLS)
}
