//! The namespace hands cluster-wide operations to its adapter and merges what comes back.
//! (A real cluster adapter is tested against real servers; this checks the wiring.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketio::{
    Adapter, AdapterError, Args, BroadcastAckError, BroadcastMessage, RemoteAcks, RemoteSocketData,
    SocketIo, Target, Value,
};

#[derive(Default)]
struct Recording {
    calls: Mutex<Vec<String>>,
}

impl Adapter for Recording {
    fn is_cluster(&self) -> bool {
        true
    }

    fn broadcast(&self, message: &BroadcastMessage) -> Result<(), AdapterError> {
        let args = message
            .args
            .to_values()
            .map_err(|e| AdapterError(Box::new(e)))?;
        self.calls.lock().unwrap().push(format!(
            "broadcast {} {} {:?} {:?}",
            message.namespace, message.event, message.target.rooms, args
        ));
        Ok(())
    }

    fn broadcast_with_ack(
        &self,
        message: &BroadcastMessage,
        _ack_id: u64,
        _timeout: Duration,
    ) -> socketio::BoxFuture<Result<RemoteAcks, AdapterError>> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("broadcast_with_ack {}", message.event));
        Box::pin(async {
            Ok(RemoteAcks {
                expected: 2,
                responses: vec![Args::from_values(vec![Value::from("remote")])],
            })
        })
    }

    fn fetch_sockets(
        &self,
        namespace: &str,
        target: &Target,
    ) -> socketio::BoxFuture<Result<Vec<RemoteSocketData>, AdapterError>> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("fetch_sockets {namespace} {:?}", target.rooms));
        Box::pin(async {
            Ok(vec![RemoteSocketData {
                id: "AAAAAAAAAAAAAAAAAAAA".into(),
                rooms: vec!["r".into()],
                data: Value::from("elsewhere"),
            }])
        })
    }

    fn add_sockets(&self, namespace: &str, target: &Target, rooms: &[String]) {
        self.calls.lock().unwrap().push(format!(
            "add_sockets {namespace} {:?} {rooms:?}",
            target.rooms
        ));
    }
}

#[tokio::test]
async fn cluster_operations_reach_the_adapter() {
    let adapter = Arc::new(Recording::default());
    let shared = adapter.clone();
    let io = SocketIo::builder()
        .adapter(move |_namespace| shared.clone() as Arc<dyn Adapter>)
        .build()
        .unwrap();

    io.to("r").emit("news", &("a", 1)).unwrap();
    io.local().emit("local only", &()).unwrap();

    let remote = io.within("r").fetch_sockets().await;
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0].id().as_str(), "AAAAAAAAAAAAAAAAAAAA");
    assert_eq!(remote[0].data::<String>().as_deref(), Some("elsewhere"));
    assert!(remote[0].as_local().is_none());
    remote[0].join("more");

    let answers = io
        .timeout(Duration::from_millis(10))
        .emit_with_ack::<String, _>("question", &())
        .await;
    match answers {
        Err(BroadcastAckError::Timeout {
            responses,
            expected,
        }) => {
            assert_eq!((responses, expected), (vec!["remote".to_owned()], 2));
        }
        other => panic!("{other:?}"),
    }

    let calls = adapter.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        [
            r#"broadcast / news ["r"] [String("a"), Number(Number(1))]"#,
            r#"fetch_sockets / ["r"]"#,
            r#"add_sockets / ["AAAAAAAAAAAAAAAAAAAA"] ["more"]"#,
            "broadcast_with_ack question",
        ]
    );
}
