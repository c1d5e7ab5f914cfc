//! Server metrics, served at `GET /metrics` in the Prometheus / OpenMetrics text format.
//!
//! One registry per server (not a process-wide recorder), so that several servers in one process
//! (the tests) each report their own figures.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The label of a connection close: its code (`lost` when no close frame could be sent).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabel {
    /// Close code, or `lost`.
    pub code: String,
}

/// The label of a refused WebSocket connection: why.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabel {
    /// `too_many_connections`, `board_full`, `shutting_down`.
    pub reason: String,
}

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    /// WebSocket connections open now (set at each scrape).
    pub connections: Gauge,
    /// Boards loaded in memory now (set at each scrape).
    pub boards_loaded: Gauge,
    /// Binary frames received.
    pub frames_in: Counter,
    /// Bytes of binary frames received.
    pub bytes_in: Counter,
    /// Frames written to clients.
    pub frames_out: Counter,
    /// Bytes written to clients.
    pub bytes_out: Counter,
    /// Document changes stored (after deduplication).
    pub updates_stored: Counter,
    /// Bytes of document changes stored.
    pub update_bytes_stored: Counter,
    /// Time from a batch's append to its durability (group commit included), in seconds.
    pub persist_seconds: Histogram,
    /// Connections ended, by close code.
    pub closes: Family<CloseLabel, Counter>,
    /// Messages refused as malformed or invalid (their connections were closed).
    pub refused_messages: Counter,
    /// Updates of which some change was refused because the sender's role may not make it.
    pub refused_edits: Counter,
    /// Messages whose reading was delayed by the per-connection rate limit.
    pub rate_limited: Counter<u64, AtomicU64>,
    /// WebSocket connections refused before the upgrade, by reason.
    pub refused_connections: Family<RefusalLabel, Counter>,
    /// Boards unloaded after their grace period.
    pub unloads: Counter,
    /// Boards written as snapshots (compactions).
    pub compactions: Counter,
    /// Updates other servers stored on a shared store, shown to this server's participants.
    pub remote_updates: Counter,
    /// Failed reads of a followed board log (the follower retries after a second).
    pub follow_errors: Counter,
    /// Time from another server storing an update to this one reading it: the stream lag.
    pub follow_lag_seconds: Histogram,
    /// Presence messages other servers published, applied here.
    pub remote_presence: Counter,
    /// Heartbeats heard from other servers.
    pub heartbeats_received: Counter,
    /// Other servers taken for crashed after their heartbeats stopped (counted per board).
    pub servers_lost: Counter,
    /// Boards this server follows now on a shared store (someone here is on them): each holds a
    /// stream reader and a presence subscription.
    pub boards_followed: Gauge,
}

impl Metrics {
    /// A fresh set of metrics, registered under the `parcours_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("parcours");
        let metrics = Metrics {
            connections: Gauge::default(),
            boards_loaded: Gauge::default(),
            frames_in: Counter::default(),
            bytes_in: Counter::default(),
            frames_out: Counter::default(),
            bytes_out: Counter::default(),
            updates_stored: Counter::default(),
            update_bytes_stored: Counter::default(),
            // 100 µs to ~3 s: an fsync is a few ms on an SSD, far more on a busy disk.
            persist_seconds: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 16),
            ),
            closes: Family::default(),
            refused_messages: Counter::default(),
            refused_edits: Counter::default(),
            rate_limited: Counter::default(),
            refused_connections: Family::default(),
            unloads: Counter::default(),
            compactions: Counter::default(),
            remote_updates: Counter::default(),
            follow_errors: Counter::default(),
            // 1 ms to ~30 s.
            follow_lag_seconds: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 16),
            ),
            remote_presence: Counter::default(),
            heartbeats_received: Counter::default(),
            servers_lost: Counter::default(),
            boards_followed: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections",
            "WebSocket connections open",
            metrics.connections.clone(),
        );
        registry.register(
            "boards_loaded",
            "Boards loaded in memory",
            metrics.boards_loaded.clone(),
        );
        registry.register(
            "frames_in",
            "Binary frames received",
            metrics.frames_in.clone(),
        );
        registry.register(
            "bytes_in",
            "Bytes of binary frames received",
            metrics.bytes_in.clone(),
        );
        registry.register(
            "frames_out",
            "Frames written to clients",
            metrics.frames_out.clone(),
        );
        registry.register(
            "bytes_out",
            "Bytes written to clients",
            metrics.bytes_out.clone(),
        );
        registry.register(
            "updates_stored",
            "Document changes stored",
            metrics.updates_stored.clone(),
        );
        registry.register(
            "update_bytes_stored",
            "Bytes of document changes stored",
            metrics.update_bytes_stored.clone(),
        );
        registry.register(
            "persist_seconds",
            "Time for a batch of changes to become durable",
            metrics.persist_seconds.clone(),
        );
        registry.register(
            "closes",
            "Connections ended, by close code",
            metrics.closes.clone(),
        );
        registry.register(
            "refused_messages",
            "Messages refused as malformed or invalid",
            metrics.refused_messages.clone(),
        );
        registry.register(
            "refused_edits",
            "Updates with changes refused because the sender's role may not make them",
            metrics.refused_edits.clone(),
        );
        registry.register(
            "rate_limited_messages",
            "Messages delayed by the per-connection rate limit",
            metrics.rate_limited.clone(),
        );
        registry.register(
            "refused_connections",
            "WebSocket connections refused before the upgrade",
            metrics.refused_connections.clone(),
        );
        registry.register(
            "unloads",
            "Boards unloaded after their grace period",
            metrics.unloads.clone(),
        );
        registry.register(
            "compactions",
            "Board logs folded into snapshots",
            metrics.compactions.clone(),
        );
        registry.register(
            "remote_updates",
            "Updates other servers stored on the shared store, shown to this server's participants",
            metrics.remote_updates.clone(),
        );
        registry.register(
            "follow_errors",
            "Failed reads of a followed board log (retried after a second)",
            metrics.follow_errors.clone(),
        );
        registry.register(
            "follow_lag_seconds",
            "Time from another server storing an update to this one reading it from the stream",
            metrics.follow_lag_seconds.clone(),
        );
        registry.register(
            "remote_presence",
            "Presence messages from other servers applied here",
            metrics.remote_presence.clone(),
        );
        registry.register(
            "heartbeats_received",
            "Heartbeats heard from other servers",
            metrics.heartbeats_received.clone(),
        );
        registry.register(
            "servers_lost",
            "Other servers taken for crashed after their heartbeats stopped, per board",
            metrics.servers_lost.clone(),
        );
        registry.register(
            "boards_followed",
            "Boards followed on a shared store now: a stream reader and a presence subscription each",
            metrics.boards_followed.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    /// Counts a connection's end: its close code, `client` when the client closed, `lost` when
    /// the socket failed.
    pub fn closed(&self, code: &str) {
        self.closes
            .get_or_create(&CloseLabel {
                code: code.to_owned(),
            })
            .inc();
    }

    /// Counts a refused connection.
    pub fn refused(&self, reason: &str) {
        self.refused_connections
            .get_or_create(&RefusalLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric_with_the_prefix() {
        let metrics = Metrics::new();
        metrics.closed("1003");
        metrics.persist_seconds.observe(0.002);
        let text = metrics.render();
        for name in [
            "parcours_connections",
            "parcours_boards_loaded",
            "parcours_frames_in_total",
            "parcours_updates_stored_total",
            "parcours_persist_seconds_bucket",
            "parcours_closes_total{code=\"1003\"} 1",
            "parcours_rate_limited_messages_total",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
