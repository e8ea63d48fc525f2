//! The two exposition formats of GET /metrics, rendered from one list of metrics.

use chrono::{DateTime, Utc};
use std::fmt::Write;

/// One named metric and its current value.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Prometheus name, e.g. `pladmed_results_acked_total`.
    pub name: &'static str,
    /// One-line description.
    pub help: &'static str,
    /// The value now.
    pub value: Value,
}

/// The value of a metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A count that only grows.
    Counter(u64),
    /// A measurement that may go up and down.
    Gauge(f64),
    /// Cumulative `(upper bound, count)` buckets, sum and count of observations.
    Histogram {
        /// `(le, observations ≤ le)`, ascending.
        buckets: Vec<(f64, u64)>,
        /// Sum of all observations.
        sum: f64,
        /// Number of observations, including those above the last bound.
        count: u64,
    },
}

/// Prometheus text exposition format 0.0.4.
pub fn prometheus_text(metrics: &[Metric]) -> String {
    let mut out = String::new();
    for Metric { name, help, value } in metrics {
        let kind = match value {
            Value::Counter(_) => "counter",
            Value::Gauge(_) => "gauge",
            Value::Histogram { .. } => "histogram",
        };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        let _ = match value {
            Value::Counter(count) => writeln!(out, "{name} {count}"),
            Value::Gauge(gauge) => writeln!(out, "{name} {gauge}"),
            Value::Histogram {
                buckets,
                sum,
                count,
            } => {
                for (bound, cumulative) in buckets {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
                }
                writeln!(
                    out,
                    "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum}\n{name}_count {count}"
                )
            }
        };
    }
    out
}

/// Tags every InfluxDB line carries: which server, and which deployment (`app_env`,
/// `development` or `production`), as the monitoring convention asks, so that one database can
/// hold every environment's series apart.
#[derive(Debug, Clone, Copy)]
pub struct InfluxTags<'a> {
    /// `PLADMED_INSTANCE`.
    pub instance: &'a str,
    /// `PLADMED_MODE`.
    pub app_env: &'a str,
}

/// InfluxDB line protocol, one line per metric tagged with [`InfluxTags`], in the layout of
/// Telegraf's Prometheus input (`counter`, `gauge`, or one field per bucket plus `sum` and
/// `count`), so dashboards built for either source read it.
pub fn influx_lines(metrics: &[Metric], tags: InfluxTags, at: DateTime<Utc>) -> String {
    let nanos = at.timestamp_nanos_opt().unwrap_or_default();
    let tag = format!(
        "instance={},app_env={}",
        escape_tag(tags.instance),
        escape_tag(tags.app_env)
    );
    let mut out = String::new();
    for Metric { name, value, .. } in metrics {
        let fields = match value {
            Value::Counter(count) => format!("counter={count}i"),
            Value::Gauge(gauge) => format!("gauge={gauge}"),
            Value::Histogram {
                buckets,
                sum,
                count,
            } => {
                let mut fields: Vec<String> = buckets
                    .iter()
                    .map(|(bound, cumulative)| format!("{bound}={cumulative}i"))
                    .collect();
                fields.push(format!("+Inf={count}i,sum={sum},count={count}i"));
                fields.join(",")
            }
        };
        let _ = writeln!(out, "{name},{tag} {fields} {nanos}");
    }
    out
}

/// Tag values escape commas, equals signs and spaces with a backslash.
fn escape_tag(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, ',' | '=' | ' ' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Metric> {
        vec![
            Metric {
                name: "pladmed_results_acked_total",
                help: "Acked.",
                value: Value::Counter(3),
            },
            Metric {
                name: "pladmed_clock_offset_seconds",
                help: "Offset.",
                value: Value::Gauge(-0.0004),
            },
            Metric {
                name: "pladmed_result_ack_seconds",
                help: "Latency.",
                value: Value::Histogram {
                    buckets: vec![(0.001, 1), (0.01, 2)],
                    sum: 0.5,
                    count: 3,
                },
            },
        ]
    }

    #[test]
    fn prometheus_text_has_help_type_and_cumulative_buckets() {
        let text = prometheus_text(&sample());
        for line in [
            "# HELP pladmed_results_acked_total Acked.",
            "# TYPE pladmed_results_acked_total counter",
            "pladmed_results_acked_total 3",
            "pladmed_clock_offset_seconds -0.0004",
            "# TYPE pladmed_result_ack_seconds histogram",
            "pladmed_result_ack_seconds_bucket{le=\"0.001\"} 1",
            "pladmed_result_ack_seconds_bucket{le=\"+Inf\"} 3",
            "pladmed_result_ack_seconds_sum 0.5",
            "pladmed_result_ack_seconds_count 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }

    #[test]
    fn influx_lines_tag_the_instance_and_environment_and_escape_them() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let tags = InfluxTags {
            instance: "eu west,1",
            app_env: "production",
        };
        let text = influx_lines(&sample(), tags, at);
        let lines: Vec<&str> = text.lines().collect();
        let tag = "instance=eu\\ west\\,1,app_env=production";
        assert_eq!(
            lines[0],
            format!("pladmed_results_acked_total,{tag} counter=3i 1700000000000000000")
        );
        assert_eq!(
            lines[1],
            format!("pladmed_clock_offset_seconds,{tag} gauge=-0.0004 1700000000000000000")
        );
        assert_eq!(
            lines[2],
            format!("pladmed_result_ack_seconds,{tag} 0.001=1i,0.01=2i,+Inf=3i,sum=0.5,count=3i 1700000000000000000")
        );
    }
}
