//! Sessions of the streams adapter: offsets are the stream's entry ids, a disconnected
//! socket's session is kept in Redis as Node keeps it (`SET P:session:<pid>
//! base64(msgpack({sid, pid, rooms, data})) PX ttl`, plus our offsets, which Node
//! ignores), and a restore on any server takes it back (`GETDEL`) and reads what the
//! client missed from the stream (`XRANGE`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use socketio::{
    Args, ConnectionStateRecovery, Encoded, FetchedSession, MemorySessionStore, OffsetFormat,
    Parser, PersistedSession, RecoveryError, RestoreFailure, RestoredSession, SessionStore,
    SocketId, Target, Value,
};

use super::StreamLog;
use crate::wire::streams::StreamsCodec;
use crate::wire::{Codec, Incoming, Request, object, string_array, strings, u64_field};

/// Bits of an entry id's sequence number in its [`entry_id`] number.
const SEQ_BITS: u32 = 20;

/// An entry id (`<ms>-<seq>`) as one ordered number: `ms << 20 | seq`. `None` for what is
/// not an id, or one beyond the range (a sequence of a million entries in one
/// millisecond).
pub(crate) fn parse_entry_id(text: &str) -> Option<u64> {
    let (ms, seq) = text.split_once('-')?;
    let (ms, seq): (u64, u64) = (ms.parse().ok()?, seq.parse().ok()?);
    (ms < 1 << (64 - SEQ_BITS) && seq < 1 << SEQ_BITS).then_some(ms << SEQ_BITS | seq)
}

/// The text of an [`entry_id`] number.
pub(crate) fn entry_id(offset: u64) -> String {
    format!("{}-{}", offset >> SEQ_BITS, offset & ((1 << SEQ_BITS) - 1))
}

const ENTRY_IDS: OffsetFormat = OffsetFormat {
    format: entry_id,
    parse: parse_entry_id,
};

/// The session as Node keeps it, with our offsets under `rs` (Node reads `sid`, `pid`,
/// `rooms` and `data` only).
pub(crate) fn encode_session(session: &PersistedSession) -> String {
    let offsets = object([
        ("lastSent", Value::from(session.last_sent)),
        ("createdAt", Value::from(session.created_at)),
        ("leftAt", Value::from(session.left_at)),
        ("roomsChangedAt", Value::from(session.rooms_changed_at)),
    ]);
    let value = object([
        ("sid", Value::from(session.id.as_str())),
        ("pid", Value::from(session.pid.as_str())),
        ("rooms", string_array(&session.rooms)),
        ("data", session.data.clone()),
        ("rs", offsets),
    ]);
    BASE64.encode(rmp_serde::to_vec_named(&value).unwrap_or_default())
}

/// A session kept by any server of the cluster (a Node one's has no offsets: 0).
pub(crate) fn decode_session(text: &str) -> Option<PersistedSession> {
    let value: Value = rmp_serde::from_slice(&BASE64.decode(text).ok()?).ok()?;
    let offsets = value.get("rs");
    let offset = |name: &str| {
        offsets
            .and_then(|offsets| u64_field(offsets, name))
            .unwrap_or(0)
    };
    Some(PersistedSession {
        pid: value.get("pid")?.as_str()?.to_owned(),
        id: SocketId::parse(value.get("sid")?.as_str()?)?,
        rooms: strings(value.get("rooms")),
        data: value.get("data").cloned().unwrap_or_default(),
        last_sent: offset("lastSent"),
        created_at: offset("createdAt"),
        left_at: offset("leftAt"),
        rooms_changed_at: offset("roomsChangedAt"),
    })
}

/// The session store of a namespace on the streams adapter: an in-memory replica of what
/// this server delivered, at the stream's offsets, whose sessions are kept in Redis too.
pub(crate) struct StreamStore {
    memory: MemorySessionStore,
    log: Arc<StreamLog>,
    ttl: Duration,
}

impl StreamStore {
    pub(crate) fn new(config: &ConnectionStateRecovery, log: Arc<StreamLog>) -> Self {
        StreamStore {
            memory: MemorySessionStore::sequenced(config, ENTRY_IDS),
            log,
            ttl: config.max_disconnection_duration,
        }
    }
}

impl SessionStore for StreamStore {
    fn next_offset(&mut self) -> (u64, String) {
        self.memory.next_offset()
    }

    fn last_offset(&self) -> u64 {
        // Entries of other namespaces and types move the log on too.
        self.memory.last_offset().max(self.log.tip())
    }

    fn current_offset(&self) -> String {
        entry_id(self.last_offset())
    }

    fn store(&mut self, offset: u64, target: &Target, packet: &Encoded, now: Instant) {
        self.memory.store(offset, target, packet, now);
    }

    fn persist(&mut self, session: PersistedSession, now: Instant) {
        self.log
            .keep_session(&session.pid, encode_session(&session), self.ttl);
        self.memory.persist(session, now);
    }

    fn restore(
        &mut self,
        pid: &str,
        offset: Option<&str>,
        now: Instant,
    ) -> Result<RestoredSession, RestoreFailure> {
        self.memory.restore(pid, offset, now)
    }

    fn take_offset(&mut self, offset: u64) -> Option<String> {
        self.memory.take_offset(offset)
    }

    fn restore_fetched(
        &mut self,
        pid: &str,
        offset: Option<&str>,
        fetched: Result<FetchedSession, RestoreFailure>,
        now: Instant,
    ) -> Result<RestoredSession, RestoreFailure> {
        self.memory.restore_fetched(pid, offset, fetched, now)
    }
}

/// What a namespace needs to read a restore from the stream.
pub(crate) struct Reader<'a> {
    pub(crate) log: &'a StreamLog,
    pub(crate) codec: &'a dyn Codec,
    pub(crate) nsp: &'a str,
    pub(crate) parser: Parser,
    pub(crate) max_missed: usize,
}

fn failure(error: RecoveryError, session: PersistedSession) -> RestoreFailure {
    RestoreFailure::new(error, Some(session))
}

impl Reader<'_> {
    /// Takes the session `pid` out of Redis and reads from the stream the packets for it
    /// after `offset`. `None` if Redis could not be asked (the server's own copy then
    /// answers).
    pub(crate) async fn fetch(
        &self,
        pid: &str,
        offset: Option<&str>,
    ) -> Option<Result<FetchedSession, RestoreFailure>> {
        use crate::pubsub::PubSub as _;
        if !self.log.redis.is_connected() {
            return None;
        }
        let raw = match self.log.take_session(pid).await {
            Ok(raw) => raw,
            Err(error) => {
                tracing::debug!(%error, "session not taken from Redis");
                return None;
            }
        };
        let Some(session) = raw.as_deref().and_then(decode_session) else {
            return Some(Err(RestoreFailure::new(
                RecoveryError::UnknownSession,
                None,
            )));
        };
        let reported = match offset.map(parse_entry_id) {
            Some(None) => return Some(Err(failure(RecoveryError::UnknownOffset, session))),
            Some(Some(reported)) => Some(reported),
            None => None,
        };
        // Nothing received: from the socket's creation, if its server noted it (Node's
        // sessions do not say, and Node refuses them).
        let from = match reported {
            Some(reported) => reported.max(session.created_at),
            None if session.created_at > 0 => session.created_at,
            None => return Some(Err(failure(RecoveryError::UnknownOffset, session))),
        };
        Some(self.read_missed(session, from).await)
    }

    async fn read_missed(
        &self,
        session: PersistedSession,
        from: u64,
    ) -> Result<FetchedSession, RestoreFailure> {
        let (count, calls) = super::range_limits();
        let target_of = |rooms: &[String], except: &[String]| Target {
            rooms: rooms.to_vec(),
            except: except.to_vec(),
        };
        // The entry at `from` must still be there: if it was trimmed, some after it may
        // have been too.
        let mut start = entry_id(from);
        let mut missed: Vec<(u64, Encoded)> = Vec::new();
        let mut through = from;
        let mut first = true;
        for _ in 0..calls {
            let entries = match self.log.range(&start, count).await {
                Ok(entries) => entries,
                Err(error) => {
                    tracing::debug!(%error, "missed packets not read");
                    return Err(failure(RecoveryError::Incomplete, session));
                }
            };
            let read = entries.len();
            for (id, fields) in entries {
                let Some(offset) = parse_entry_id(&id) else {
                    continue;
                };
                if first {
                    first = false;
                    if offset != from {
                        return Err(failure(RecoveryError::Incomplete, session));
                    }
                    continue;
                }
                through = offset;
                if StreamsCodec::namespace_of(&fields) != Some(self.nsp) {
                    continue;
                }
                let Some(Incoming::Request {
                    request: Request::Broadcast { data, opts },
                    ..
                }) = self.codec.decode_entry(&fields)
                else {
                    continue;
                };
                if opts.volatile || !target_of(&opts.rooms, &opts.except).includes(&session.rooms) {
                    continue;
                }
                let mut args = data.args;
                args.push(Value::from(id.as_str()));
                let Ok(encoded) = self.parser.encode_event_args(
                    self.nsp,
                    None,
                    &data.event,
                    &Args::from_values(args),
                ) else {
                    continue;
                };
                missed.push((offset, encoded));
                if missed.len() > self.max_missed {
                    let missed = missed.len();
                    return Err(failure(RecoveryError::TooManyMissed { missed }, session));
                }
            }
            if first {
                // Not even the entry at `from`.
                return Err(failure(RecoveryError::Incomplete, session));
            }
            if read < count {
                return Ok(FetchedSession {
                    session,
                    from,
                    missed,
                    through,
                });
            }
            start = entry_id(through + 1);
        }
        // Entries come faster than they are read: what follows reaches the socket live.
        Ok(FetchedSession {
            session,
            from,
            missed,
            through,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_are_ordered_numbers() {
        let a = parse_entry_id("1700000000000-0").unwrap();
        let b = parse_entry_id("1700000000000-7").unwrap();
        let c = parse_entry_id("1700000000001-0").unwrap();
        assert!(a < b && b < c);
        assert_eq!(entry_id(b), "1700000000000-7");
        assert_eq!(parse_entry_id("0-0"), Some(0));
        for bad in ["", "1", "a-b", "1-", "-1", "1-2-3", "1-1048576"] {
            assert_eq!(parse_entry_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn sessions_read_back_ours_and_nodes() {
        let session = PersistedSession {
            pid: "pid".into(),
            id: SocketId::parse("abcdefghijklmnopqrst").unwrap(),
            rooms: vec!["a".into(), "b".into()],
            data: object([("node", Value::from("node-A"))]),
            last_sent: 5,
            created_at: 2,
            left_at: 9,
            rooms_changed_at: 3,
        };
        assert_eq!(
            decode_session(&encode_session(&session)),
            Some(session.clone())
        );
        // As Node keeps it: no offsets.
        let node = object([
            ("sid", Value::from(session.id.as_str())),
            ("pid", Value::from("pid")),
            ("rooms", string_array(&session.rooms)),
            ("data", Value::Null),
        ]);
        let text = BASE64.encode(rmp_serde::to_vec_named(&node).unwrap());
        let decoded = decode_session(&text).unwrap();
        assert_eq!((decoded.created_at, decoded.rooms.len()), (0, 2));
        assert_eq!(decode_session("not base64"), None);
    }
}
