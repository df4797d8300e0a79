//! `/metrics`: the server's state and counters in Prometheus' text format.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use socketio::SocketIo;

type Labels = Vec<(&'static str, String)>;

/// The gateway's metrics: the server's own counters, read at each scrape, and the
/// gateway's.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    join_refusals: Family<Labels, Counter>,
    api_requests: Family<Labels, Counter>,
}

/// Reads the server's state and counters at each scrape.
#[derive(Debug)]
struct ServerCollector(SocketIo, Option<socketio_redis::RedisAdapter>);

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: &[(Labels, i64)],
) -> Result<(), std::fmt::Error> {
    let mut family =
        encoder.encode_descriptor(name, help, None, ConstGauge::new(0i64).metric_type())?;
    if let [(labels, value)] = values
        && labels.is_empty()
    {
        return ConstGauge::new(*value).encode(family);
    }
    for (labels, value) in values {
        ConstGauge::new(*value).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: &[(Labels, u64)],
) -> Result<(), std::fmt::Error> {
    let mut family =
        encoder.encode_descriptor(name, help, None, ConstCounter::new(0u64).metric_type())?;
    if let [(labels, value)] = values
        && labels.is_empty()
    {
        return ConstCounter::new(*value).encode(family);
    }
    for (labels, value) in values {
        ConstCounter::new(*value).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Collector for ServerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let io = &self.0;
        let engine = io.engine().stats();
        let stats = io.stats();
        let none = Labels::new;
        gauge(
            &mut encoder,
            "socketio_connections",
            "Open Engine.IO connections",
            &[(none(), count(io.engine().session_count()))],
        )?;
        let namespaces = io.namespaces();
        let per_namespace = |value: &dyn Fn(&socketio::Namespace) -> usize| {
            namespaces
                .iter()
                .map(|ns| (vec![("namespace", ns.name().to_owned())], count(value(ns))))
                .collect::<Vec<_>>()
        };
        gauge(
            &mut encoder,
            "socketio_sockets",
            "Connected sockets, by namespace",
            &per_namespace(&|ns| ns.socket_count()),
        )?;
        gauge(
            &mut encoder,
            "socketio_rooms",
            "Rooms with sockets (each socket's own room included), by namespace",
            &per_namespace(&|ns| ns.rooms().len()),
        )?;
        counter(
            &mut encoder,
            "socketio_connections_opened",
            "Engine.IO connections opened",
            &[(none(), engine.sessions_opened)],
        )?;
        let refused: Vec<(Labels, u64)> = engine
            .refused
            .iter()
            .map(|(reason, n)| (vec![("reason", (*reason).to_owned())], *n))
            .collect();
        counter(
            &mut encoder,
            "socketio_handshake_failures",
            "Engine.IO requests refused (bad handshakes, unknown sessions, forbidden origins, too many connections), by reason",
            &refused,
        )?;
        for (name, help, value) in [
            (
                "socketio_packets_in",
                "Socket.IO packets received",
                stats.events_in,
            ),
            ("socketio_bytes_in", "Bytes received", stats.bytes_in),
            (
                "socketio_packets_out",
                "Socket.IO packets sent (a broadcast counts once per recipient)",
                stats.packets_out,
            ),
            ("socketio_bytes_out", "Bytes sent", stats.bytes_out),
            (
                "socketio_volatile_dropped",
                "Volatile packets dropped for clients that could not take them",
                stats.volatile_dropped,
            ),
            (
                "socketio_buffer_full",
                "Packets refused because a client's outgoing buffer was full",
                stats.buffer_full,
            ),
            (
                "socketio_ack_timeouts",
                "Acknowledgements that did not come in time",
                stats.ack_timeouts,
            ),
        ] {
            counter(&mut encoder, name, help, &[(none(), value)])?;
        }
        if let Some(adapter) = &self.1 {
            let cluster = adapter.metrics();
            gauge(
                &mut encoder,
                "socketio_adapter_connected",
                "Whether the cluster's Redis answers (1) or not (0): while it does not, emits reach this node's clients only",
                &[(none(), i64::from(cluster.connected))],
            )?;
            for (name, help, value) in [
                (
                    "socketio_adapter_published",
                    "Messages published to the other nodes",
                    cluster.published,
                ),
                (
                    "socketio_adapter_publish_errors",
                    "Messages Redis failed to take",
                    cluster.publish_errors,
                ),
                (
                    "socketio_adapter_refused",
                    "Cross-node operations refused at once (Redis unreachable or the queue full)",
                    cluster.refused,
                ),
                (
                    "socketio_adapter_received",
                    "Messages received from the other nodes",
                    cluster.received,
                ),
                (
                    "socketio_adapter_request_timeouts",
                    "Requests to the other nodes that timed out",
                    cluster.request_timeouts,
                ),
            ] {
                counter(&mut encoder, name, help, &[(none(), value)])?;
            }
        }
        Ok(())
    }
}

impl Metrics {
    /// Metrics of `io`.
    pub(crate) fn new(io: &SocketIo, adapter: Option<socketio_redis::RedisAdapter>) -> Arc<Self> {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ServerCollector(io.clone(), adapter)));
        let join_refusals = Family::<Labels, Counter>::default();
        registry.register(
            "socketio_join_refusals",
            "Namespace joins refused (authentication, unknown namespace), by reason",
            join_refusals.clone(),
        );
        let api_requests = Family::<Labels, Counter>::default();
        registry.register(
            "socketio_api_requests",
            "Publish API requests, by endpoint and status",
            api_requests.clone(),
        );
        Arc::new(Metrics {
            registry,
            join_refusals,
            api_requests,
        })
    }

    /// Counts a refused join.
    pub(crate) fn join_refused(&self, reason: &str) {
        self.join_refusals
            .get_or_create(&vec![("reason", reason.to_owned())])
            .inc();
    }

    /// Counts a publish API request.
    pub(crate) fn api_request(&self, endpoint: &'static str, status: u16) {
        self.api_requests
            .get_or_create(&vec![
                ("endpoint", endpoint.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
    }

    /// The metrics in Prometheus' text format.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(%error, "metrics not encoded");
        }
        out
    }
}
