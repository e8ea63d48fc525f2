//! What the server counts about itself, and how it logs.
//!
//! Counters are plain atomics incremented on the real paths (probe link, operation creation,
//! store calls); GET /metrics renders them, together with gauges read at that moment (connected
//! probes, clock, memory), as Prometheus text or InfluxDB line protocol from one [`Metric`] list,
//! so the two formats can never disagree.

mod histogram;
pub mod logging;
mod process;
mod render;
mod store_failures;

pub use histogram::Histogram;
pub use render::{influx_lines, prometheus_text, InfluxTags, Metric, Value};
pub use store_failures::StoreFailures;

use crate::clock::ClockStatus;
use crate::store::Inventory;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The counters of one server instance.
#[derive(Debug, Default)]
pub struct Telemetry {
    /// Operations stored (and paid for).
    pub operations_created: Counter,
    /// `result` frames received from probes.
    pub results_received: Counter,
    /// `result_ack` frames queued, new and duplicate results alike.
    pub results_acked: Counter,
    /// Acknowledged results that had been stored before (re-sent by the probe).
    pub results_duplicate: Counter,
    /// Time from receiving a `result` frame to queueing its acknowledgement, i.e. mostly the
    /// durable write.
    pub ack_latency: Histogram,
    /// Text frames received on probe links.
    pub frames_in: Counter,
    /// Text frames written to probe links.
    pub frames_out: Counter,
    /// Store calls that failed for lack of the database (unreachable, refused, corrupt data),
    /// as opposed to domain outcomes such as a duplicate e-mail address.
    pub store_errors: Counter,
}

/// What is measured at the moment of rendering rather than counted.
pub struct Gauges<'a> {
    /// Probes connected to this instance.
    pub probes_connected: usize,
    /// The clock's last measurement.
    pub clock: &'a ClockStatus,
    /// What the store holds; `None` when it could not be counted in time (the inventory series
    /// are then absent, as Prometheus expects of "unknown", rather than a misleading zero).
    pub inventory: Option<Inventory>,
}

impl Telemetry {
    /// Every metric, counters and gauges, in a stable order.
    pub fn metrics(&self, gauges: &Gauges) -> Vec<Metric> {
        let counter = |name, help, counter: &Counter| Metric {
            name,
            help,
            value: Value::Counter(counter.get()),
        };
        let mut metrics = vec![
            Metric {
                name: "pladmed_probes_connected",
                help: "Probes connected to this instance.",
                value: Value::Gauge(gauges.probes_connected as f64),
            },
            counter(
                "pladmed_operations_created_total",
                "Operations created.",
                &self.operations_created,
            ),
            counter(
                "pladmed_results_received_total",
                "Result frames received from probes.",
                &self.results_received,
            ),
            counter(
                "pladmed_results_acked_total",
                "Results acknowledged to probes after a durable write.",
                &self.results_acked,
            ),
            counter(
                "pladmed_results_duplicate_total",
                "Acknowledged results that had been stored before.",
                &self.results_duplicate,
            ),
            Metric {
                name: "pladmed_result_ack_seconds",
                help: "Time from receiving a result to queueing its acknowledgement.",
                value: self.ack_latency.value(),
            },
            counter(
                "pladmed_ws_frames_in_total",
                "Text frames received on probe links.",
                &self.frames_in,
            ),
            counter(
                "pladmed_ws_frames_out_total",
                "Text frames sent on probe links.",
                &self.frames_out,
            ),
            counter(
                "pladmed_store_errors_total",
                "Store calls failed because the database was unavailable or returned corrupt data.",
                &self.store_errors,
            ),
        ];
        metrics.extend(
            gauges
                .inventory
                .map(inventory_metrics)
                .into_iter()
                .flatten(),
        );
        metrics.extend(clock_metrics(gauges.clock));
        if let Some(rss) = process::resident_bytes() {
            metrics.push(Metric {
                name: "process_resident_memory_bytes",
                help: "Resident memory size in bytes.",
                value: Value::Gauge(rss as f64),
            });
        }
        metrics
    }
}

/// Inventory gauges: what the store holds, across every instance sharing it
/// (`pladmed_probes_connected` counts this instance's links only).
fn inventory_metrics(inventory: Inventory) -> Vec<Metric> {
    let gauge = |name, help, count: u64| Metric {
        name,
        help,
        value: Value::Gauge(count as f64),
    };
    vec![
        gauge(
            "pladmed_inventory_users",
            "Accounts in the store.",
            inventory.users,
        ),
        gauge(
            "pladmed_inventory_probes",
            "Probes registered in the store.",
            inventory.probes,
        ),
        gauge(
            "pladmed_inventory_probes_connected",
            "Probes connected to any instance, as the store records their links.",
            inventory.probes_connected,
        ),
        gauge(
            "pladmed_inventory_operations",
            "Operations in the store.",
            inventory.operations,
        ),
        gauge(
            "pladmed_inventory_results",
            "Results in the store.",
            inventory.results,
        ),
    ]
}

/// Clock gauges; absent until the first successful sample (an absent series is what Prometheus
/// alerting expects for "unknown", a zero offset would look perfect).
fn clock_metrics(clock: &ClockStatus) -> Vec<Metric> {
    let synchronized = Metric {
        name: "pladmed_clock_sample_ok",
        help: "1 if the last NTP sample succeeded, else 0.",
        value: Value::Gauge(if clock.last_error.is_none() && clock.last.is_some() {
            1.0
        } else {
            0.0
        }),
    };
    let Some(sample) = &clock.last else {
        return vec![synchronized];
    };
    let gauge = |name, help, value: f64| Metric {
        name,
        help,
        value: Value::Gauge(value),
    };
    vec![
        synchronized,
        gauge(
            "pladmed_clock_offset_seconds",
            "Offset of the NTP server's clock from ours at the last sample (positive: we are behind).",
            sample.offset_ms / 1000.0,
        ),
        gauge(
            "pladmed_clock_delay_seconds",
            "Round-trip delay to the NTP server at the last sample.",
            sample.delay_ms / 1000.0,
        ),
        gauge(
            "pladmed_clock_stratum",
            "Stratum of the NTP server at the last sample.",
            f64::from(sample.stratum),
        ),
        gauge(
            "pladmed_clock_sample_timestamp_seconds",
            "Unix time of the last successful NTP sample.",
            sample.measured_at.timestamp_millis() as f64 / 1000.0,
        ),
    ]
}
