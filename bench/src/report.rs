//! Figures of a run: a table for people, the same rows as JSON for machines.

use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// One measured figure, ours beside its baseline when there is one.
#[derive(Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub metric: String,
    pub unit: &'static str,
    pub ours: f64,
    pub baseline: Option<f64>,
    /// ours / baseline.
    pub ratio: Option<f64>,
}

/// Every row of a run, with the command that produced it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub command: String,
    pub date: String,
    pub cores: usize,
    pub rows: Vec<Row>,
}

impl Report {
    pub fn new(command: String) -> Self {
        Report {
            command,
            date: chrono::Utc::now().to_rfc3339(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            rows: Vec::new(),
        }
    }

    pub fn add(
        &mut self,
        scenario: &str,
        metric: &str,
        unit: &'static str,
        ours: f64,
        baseline: Option<f64>,
    ) {
        let ratio = baseline.filter(|b| *b > 0.0).map(|b| ours / b);
        self.rows.push(Row {
            scenario: scenario.into(),
            metric: metric.into(),
            unit,
            ours,
            baseline,
            ratio,
        });
    }

    pub fn print(&self) {
        println!("\n{}\n{} ({} cores)\n", self.command, self.date, self.cores);
        println!(
            "{:<26} {:<38} {:>12} {:>12} {:>8}  unit",
            "scenario", "metric", "ours", "baseline", "ratio"
        );
        for row in &self.rows {
            let baseline = row.baseline.map_or("-".into(), number);
            let ratio = row.ratio.map_or("-".into(), |r| format!("{r:.2}"));
            println!(
                "{:<26} {:<38} {:>12} {:>12} {:>8}  {}",
                row.scenario,
                row.metric,
                number(row.ours),
                baseline,
                ratio,
                row.unit
            );
        }
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(self)?)?;
        Ok(())
    }
}

fn number(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Percentiles of a set of durations, in milliseconds.
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Latencies { sorted: samples }
    }

    pub fn count(&self) -> usize {
        self.sorted.len()
    }

    /// The `q` quantile (0.0..=1.0) in milliseconds; 0 when empty.
    pub fn ms(&self, q: f64) -> f64 {
        if self.sorted.is_empty() {
            return 0.0;
        }
        let index = ((self.sorted.len() - 1) as f64 * q).round() as usize;
        self.sorted[index].as_secs_f64() * 1000.0
    }
}
