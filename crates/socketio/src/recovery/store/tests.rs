//! The in-memory store under fake time.

use std::time::{Duration, Instant};

use socketio_proto::Parser;

use super::*;

const SECOND: Duration = Duration::from_secs(1);

fn config() -> ConnectionStateRecovery {
    ConnectionStateRecovery {
        max_disconnection_duration: 10 * SECOND,
        retention_margin: 5 * SECOND,
        ..ConnectionStateRecovery::default()
    }
}

fn target(rooms: &[&str]) -> Target {
    Target {
        rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
        except: Vec::new(),
    }
}

/// Stores a packet `tick(n)` with its offset; returns the offset.
fn send(store: &mut MemorySessionStore, to: &Target, n: u32, now: Instant) -> u64 {
    let (offset, text) = store.next_offset();
    let packet = Parser::Json.encode_event("/", None, "tick", &(n,)).unwrap();
    let packet = Parser::Json.with_trailing_str(&packet, &text).unwrap();
    store.store(offset, to, &packet, now);
    offset
}

fn session(id: SocketId, rooms: &[&str], last_sent: u64, left_at: u64) -> PersistedSession {
    let mut all: Vec<String> = rooms.iter().map(|r| (*r).to_owned()).collect();
    all.push(id.as_str().to_owned());
    PersistedSession {
        pid: "pid".to_owned(),
        id,
        rooms: all,
        data: Value::from("data"),
        last_sent,
        created_at: 0,
        left_at,
        rooms_changed_at: 0,
    }
}

/// The `n` of each replayed `tick`.
fn ticks(restored: &RestoredSession) -> Vec<u32> {
    restored
        .missed
        .iter()
        .map(|packet| {
            let text = std::str::from_utf8(packet.first().as_bytes()).unwrap();
            let array: serde_json::Value = serde_json::from_str(&text[1..]).unwrap();
            u32::try_from(array[1].as_u64().unwrap()).unwrap()
        })
        .collect()
}

#[test]
fn replays_what_the_session_missed_in_order() {
    let t0 = Instant::now();
    let mut store = MemorySessionStore::new(&config());
    let id = SocketId::random();
    let everyone = Target::default();
    let first = send(&mut store, &everyone, 1, t0);
    let second = send(&mut store, &everyone, 2, t0);
    store.persist(session(id, &["news"], second, second), t0);
    send(&mut store, &target(&["news"]), 3, t0 + SECOND);
    send(&mut store, &target(&["sport"]), 4, t0 + SECOND);
    send(&mut store, &target(&[id.as_str()]), 5, t0 + SECOND);
    let except_news = Target {
        rooms: Vec::new(),
        except: vec!["news".to_owned()],
    };
    send(&mut store, &except_news, 6, t0 + SECOND);

    // The client got packet 1 only: 2 was in flight when its connection died.
    let offset = store.format(first);
    let restored = store
        .restore("pid", Some(&offset), t0 + 2 * SECOND)
        .unwrap();
    assert_eq!(ticks(&restored), [2, 3, 5]);
    assert_eq!(restored.session.id, id);
    // Once only.
    assert!(matches!(
        store.restore("pid", Some(&offset), t0 + 2 * SECOND),
        Err(RestoreFailure {
            error: RecoveryError::UnknownSession,
            previous: None
        })
    ));
}

#[test]
fn offsets_carry_the_store_and_unknown_ones_are_refused() {
    let t0 = Instant::now();
    let mut store = MemorySessionStore::new(&config());
    let other = MemorySessionStore::new(&config());
    let id = SocketId::random();
    let sent = send(&mut store, &Target::default(), 1, t0);
    for bogus in [
        "hello".to_owned(),
        other.format(sent),
        store.format(sent + 1),
        format!("{:x}-zz", store.epoch),
    ] {
        store.persist(session(id, &[], sent, sent), t0);
        let refused = store.restore("pid", Some(&bogus), t0).unwrap_err();
        assert_eq!(refused.error, RecoveryError::UnknownOffset, "{bogus}");
        assert_eq!(refused.previous.unwrap().id, id);
    }
}

#[test]
fn sessions_expire_after_the_window() {
    let t0 = Instant::now();
    let mut store = MemorySessionStore::new(&config());
    let id = SocketId::random();
    store.persist(session(id, &[], 0, 0), t0);
    assert_eq!(
        store
            .restore("pid", None, t0 + 11 * SECOND)
            .unwrap_err()
            .error,
        RecoveryError::UnknownSession
    );
    assert_eq!(store.session_count(), 0);
}

#[test]
fn a_socket_that_heard_nothing_for_long_still_recovers() {
    // Node loses such sessions: the client's offset has left the buffer.
    let t0 = Instant::now();
    let mut store = MemorySessionStore::new(&config());
    let id = SocketId::random();
    let last = send(&mut store, &target(&["news"]), 1, t0);
    // An hour of traffic for other rooms, long expired.
    for n in 0..100 {
        send(&mut store, &target(&["other"]), n, t0 + 60 * SECOND);
    }
    let now = t0 + 3600 * SECOND;
    let left_at = send(&mut store, &target(&["other"]), 0, now);
    store.persist(session(id, &["news"], last, left_at), now);
    send(&mut store, &target(&["news"]), 2, now + SECOND);
    let restored = store
        .restore("pid", Some(&store.format(last)), now + 2 * SECOND)
        .unwrap();
    assert_eq!(ticks(&restored), [2]);
}

#[test]
fn a_replay_with_dropped_packets_is_refused_not_half_done() {
    let t0 = Instant::now();
    let mut store = MemorySessionStore::new(&config());
    let id = SocketId::random();
    let received = send(&mut store, &Target::default(), 1, t0);
    let in_flight = send(&mut store, &Target::default(), 2, t0);
    store.persist(session(id, &[], in_flight, in_flight), t0 + 9 * SECOND);
    // Packet 2 ages out (retention 15 s) while the session (window 10 s) is still valid.
    send(&mut store, &Target::default(), 3, t0 + 16 * SECOND);
    let refused = store
        .restore("pid", Some(&store.format(received)), t0 + 16 * SECOND)
        .unwrap_err();
    assert_eq!(refused.error, RecoveryError::Incomplete);
    assert_eq!(refused.previous.unwrap().data, Value::from("data"));
}

#[test]
fn the_byte_bound_drops_the_oldest_packets() {
    let t0 = Instant::now();
    let mut store = MemorySessionStore::new(&ConnectionStateRecovery {
        max_stored_bytes: 2000,
        ..config()
    });
    let id = SocketId::random();
    store.persist(session(id, &[], 0, 0), t0);
    for n in 0..100 {
        send(&mut store, &Target::default(), n, t0);
    }
    assert!(store.stored_bytes <= 2000);
    assert!(store.packet_count() < 100);
    assert_eq!(
        store.restore("pid", None, t0).unwrap_err().error,
        RecoveryError::Incomplete
    );
}

#[test]
fn too_many_missed_packets_are_refused() {
    let t0 = Instant::now();
    let mut store = MemorySessionStore::new(&ConnectionStateRecovery {
        max_missed_packets: 3,
        ..config()
    });
    let id = SocketId::random();
    store.persist(session(id, &[], 0, 0), t0);
    for n in 0..4 {
        send(&mut store, &Target::default(), n, t0);
    }
    assert_eq!(
        store.restore("pid", None, t0).unwrap_err().error,
        RecoveryError::TooManyMissed { missed: 4 }
    );
}

#[test]
fn the_session_bound_drops_the_oldest_sessions() {
    let t0 = Instant::now();
    let mut store = MemorySessionStore::new(&ConnectionStateRecovery {
        max_sessions: 10,
        ..config()
    });
    for n in 0..1000 {
        let mut session = session(SocketId::random(), &[], 0, 0);
        session.pid = format!("pid{n}");
        store.persist(session, t0);
    }
    assert_eq!(store.session_count(), 10);
    assert!(store.expiry.len() <= 2 * 10 + 64);
    assert!(store.restore("pid0", None, t0).is_err());
    assert!(store.restore("pid999", None, t0).is_ok());
}

#[test]
fn an_offset_from_an_earlier_session_counts_from_this_one() {
    let t0 = Instant::now();
    let mut store = MemorySessionStore::new(&config());
    let id = SocketId::random();
    let old = send(&mut store, &Target::default(), 1, t0);
    let created = send(&mut store, &Target::default(), 2, t0);
    let mut session = session(id, &[], 0, created);
    session.created_at = created;
    store.persist(session, t0);
    send(&mut store, &Target::default(), 3, t0);
    let restored = store.restore("pid", Some(&store.format(old)), t0).unwrap();
    assert_eq!(ticks(&restored), [3]);
}

#[test]
fn rooms_changed_after_the_clients_offset_refuse_a_replay_by_rooms() {
    let t0 = Instant::now();
    let mut store = MemorySessionStore::new(&config());
    let id = SocketId::random();
    let first = send(&mut store, &Target::default(), 1, t0);
    // Sent to "vip" before the socket joined it: not the client's to see.
    let before_join = send(&mut store, &target(&["vip"]), 2, t0);
    let mut left = session(id, &["vip"], first, before_join);
    left.rooms_changed_at = before_join;
    store.persist(left.clone(), t0);
    let offset = store.format(first);
    assert!(matches!(
        store.restore("pid", Some(&offset), t0 + SECOND),
        Err(RestoreFailure {
            error: RecoveryError::Incomplete,
            previous: Some(_)
        })
    ));

    // A client that has heard up to the change recovers what came after it.
    store.persist(left, t0);
    let after_join = send(&mut store, &target(&["vip"]), 3, t0);
    let offset = store.format(before_join);
    let restored = store.restore("pid", Some(&offset), t0 + SECOND).unwrap();
    assert_eq!(ticks(&restored), [3]);
    assert!(after_join > before_join);
}

const DECIMAL: OffsetFormat = OffsetFormat {
    format: |offset| offset.to_string(),
    parse: |text| text.parse().ok(),
};

/// A packet `tick(n)` at a given offset, as a sequenced store's adapter delivers it.
fn deliver_at(store: &mut MemorySessionStore, to: &Target, n: u32, at: u64, now: Instant) {
    let text = store.take_offset(at).expect("a later offset is taken");
    let packet = Parser::Json.encode_event("/", None, "tick", &(n,)).unwrap();
    let packet = Parser::Json.with_trailing_str(&packet, &text).unwrap();
    store.store(at, to, &packet, now);
}

fn tick_at(n: u32, at: u64) -> (u64, Encoded) {
    let packet = Parser::Json.encode_event("/", None, "tick", &(n,)).unwrap();
    let packet = Parser::Json
        .with_trailing_str(&packet, &at.to_string())
        .unwrap();
    (at, packet)
}

#[test]
fn a_sequenced_store_takes_increasing_given_offsets_only() {
    let mut store = MemorySessionStore::sequenced(&config(), DECIMAL);
    assert_eq!(store.take_offset(10).as_deref(), Some("10"));
    assert_eq!(store.take_offset(10), None, "not after the last one");
    assert_eq!(store.take_offset(3), None);
    assert_eq!(store.current_offset(), "10");
    // Another server's offsets are this log's too.
    assert!(MemorySessionStore::new(&config()).take_offset(1).is_none());
}

#[test]
fn a_fetched_restore_adds_what_was_delivered_since_and_leaves_the_rest_live() {
    let now = Instant::now();
    let id = SocketId::random();
    let everyone = target(&[]);
    let mut store = MemorySessionStore::sequenced(&config(), DECIMAL);
    // Delivered here: 5 (before the fetch read to 6), 8 and 9 (after).
    deliver_at(&mut store, &everyone, 5, 5, now);
    deliver_at(&mut store, &everyone, 8, 8, now);
    deliver_at(&mut store, &target(&["elsewhere"]), 9, 9, now);
    let fetched = |through| FetchedSession {
        session: session(id, &[], 0, 0),
        from: 4,
        missed: vec![tick_at(5, 5), tick_at(6, 6)],
        through,
    };
    let restored = store
        .restore_fetched("pid", Some("4"), Ok(fetched(6)), now)
        .unwrap();
    // The fetch's packets, then the ones delivered here after what it read (9 was for
    // other rooms).
    assert_eq!(ticks(&restored), [5, 6, 8]);
    assert_eq!(restored.last_missed, 8);

    // A fetch that read beyond what was delivered here keeps only what was delivered:
    // the rest reaches the socket live, once it is back in its rooms.
    let restored = store
        .restore_fetched("pid", Some("4"), Ok(fetched(20)), now)
        .unwrap();
    assert_eq!(ticks(&restored), [5, 6]);

    // The shared storage's failure is the restore's.
    let failure = store
        .restore_fetched(
            "pid",
            Some("4"),
            Err(RestoreFailure::new(RecoveryError::UnknownSession, None)),
            now,
        )
        .unwrap_err();
    assert_eq!(failure.error, RecoveryError::UnknownSession);
}

#[test]
fn a_fetched_restore_is_incomplete_when_the_replica_dropped_what_followed_the_fetch() {
    let now = Instant::now();
    let id = SocketId::random();
    let small = ConnectionStateRecovery {
        max_stored_bytes: 1,
        ..config()
    };
    let mut store = MemorySessionStore::sequenced(&small, DECIMAL);
    deliver_at(&mut store, &target(&[]), 1, 7, now);
    deliver_at(&mut store, &target(&[]), 2, 8, now);
    let fetched = FetchedSession {
        session: session(id, &[], 0, 0),
        from: 4,
        missed: Vec::new(),
        through: 6,
    };
    let failure = store
        .restore_fetched("pid", Some("4"), Ok(fetched), now)
        .unwrap_err();
    assert_eq!(failure.error, RecoveryError::Incomplete);
    assert!(failure.previous.is_some());
}
