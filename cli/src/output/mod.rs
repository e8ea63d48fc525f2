//! How results are printed: readable lines for people, JSON lines or CSV for programs. The same
//! printer serves `results` (every stored result) and `--wait` (results as they arrive).

mod summary;

pub use summary::{summarize, Line};

use crate::args::FormatArgs;
use crate::error::Result;
use serde_json::Value;
use std::io::Write;

/// The output format the flags ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns, a few lines per result.
    Human,
    /// One JSON object per line, as the API returns it.
    Json,
    /// CSV with a header row.
    Csv,
}

impl From<FormatArgs> for Format {
    fn from(flags: FormatArgs) -> Self {
        match (flags.json, flags.csv) {
            (true, _) => Format::Json,
            (_, true) => Format::Csv,
            _ => Format::Human,
        }
    }
}

/// Width of the probe column: a probe identifier is 24 hexadecimal digits.
const PROBE_WIDTH: usize = 24;
/// Width of the target column; longer names push the rest of their line.
const TARGET_WIDTH: usize = 15;
/// The columns of `--csv`.
const CSV_HEADER: [&str; 9] = [
    "id",
    "probe",
    "unique_code",
    "measured_at",
    "received_at",
    "format",
    "error",
    "summary",
    "results",
];

/// Turns results into text in one format, the header once before the first.
pub struct ResultPrinter {
    format: Format,
    started: bool,
}

impl ResultPrinter {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            started: false,
        }
    }

    /// The text to print for `result`, newline-terminated; starts with the header the first
    /// time.
    pub fn render(&mut self, result: &Value) -> Result<String> {
        let mut text = String::new();
        let first = !self.started;
        self.started = true;
        match self.format {
            Format::Json => {
                text.push_str(&result.to_string());
                text.push('\n');
            }
            Format::Csv => text.push_str(&csv_row(result, first)?),
            Format::Human => {
                if first {
                    text.push_str(&human_row("PROBE", "TIME", "TARGET", "RESULT"));
                }
                text.push_str(&human(result));
            }
        }
        Ok(text)
    }

    /// Prints `result` on standard output.
    pub fn print(&mut self, result: &Value) -> Result<()> {
        let text = self.render(result)?;
        write_out(&text)
    }
}

/// Writes `text` on standard output at once (results appear as they arrive, not when a buffer
/// fills).
pub fn write_out(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Writes `text` and a newline on standard output.
pub fn print_line(text: impl std::fmt::Display) -> Result<()> {
    write_out(&format!("{text}\n"))
}

fn human(result: &Value) -> String {
    let probe = result["probe"].as_str().unwrap_or("?");
    // RFC 3339 from the server: the time of day is what tells results apart while following.
    let measured = result["measured_at"].as_str().unwrap_or("");
    let time = measured.get(11..19).unwrap_or(measured);
    let mut text = String::new();
    for (i, line) in summarize(result).iter().enumerate() {
        let (probe, time) = if i == 0 { (probe, time) } else { ("", "") };
        text.push_str(&human_row(probe, time, &line.target, &line.text));
    }
    text
}

fn human_row(probe: &str, time: &str, target: &str, text: &str) -> String {
    let row = format!("{probe:<PROBE_WIDTH$}  {time:<8}  {target:<TARGET_WIDTH$}  {text}");
    format!("{}\n", row.trim_end())
}

fn csv_row(result: &Value, header: bool) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        writer.write_record(CSV_HEADER)?;
    }
    let text = |field: &str| match &result[field] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let summary: Vec<String> = summarize(result)
        .into_iter()
        .map(|line| format!("{} {}", line.target, line.text).trim().to_string())
        .collect();
    writer.write_record([
        text("_id"),
        text("probe"),
        text("unique_code"),
        text("measured_at"),
        text("received_at"),
        text("format"),
        text("error"),
        summary.join("; "),
        text("results"),
    ])?;
    let bytes = writer
        .into_inner()
        .map_err(|e| crate::error::CliError::Local(format!("CSV output: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
