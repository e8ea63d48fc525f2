//! The original link's event payloads and their translation to and from ours.
//!
//! pladmed-client receives `traceroute`, `ping` and `dns` with the operation as the original
//! backend published it, and emits `new_operation` and `finish_operation` (credits only) and
//! `results` (the raw output file as a binary attachment, with an acknowledgement callback).

use bytes::Bytes;
use chrono::Utc;
use flate2::read::GzDecoder;
use probe_protocol::{ContentFormat, OperationOrder, RawContent, ResultReport};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::Read;

/// The event that carries an operation of `order`'s kind: `traceroute`, `ping` or `dns`.
pub fn operation_event(order: &OperationOrder) -> &'static str {
    match order.kind {
        probe_protocol::OperationKind::Traceroute => "traceroute",
        probe_protocol::OperationKind::Ping => "ping",
        probe_protocol::OperationKind::Dns => "dns",
    }
}

/// An operation as the original backend emitted it (`Operation.public_data()` without
/// `probes`, `credits` replaced by what one execution costs the probe): the client reads
/// `_id`, `params` (`cron`, `times_per_minute`, `stop_time`, …) and `credits`.
#[derive(Debug, Serialize)]
pub struct LegacyOperation<'a> {
    /// The operation's identifier, quoted back in `results`.
    #[serde(rename = "_id")]
    pub id: &'a str,
    /// The parameters as the owner gave them.
    pub params: &'a Map<String, Value>,
    /// Credits the operation holds on the probe while it runs.
    pub credits: u64,
    /// The requested output format.
    pub result_format: probe_protocol::ResultFormat,
    /// Always empty: the original sent the new operation's (empty) result list along.
    pub results: [(); 0],
}

impl<'a> LegacyOperation<'a> {
    /// The payload of `order`.
    pub fn of(order: &'a OperationOrder) -> Self {
        LegacyOperation {
            id: &order.operation_id,
            params: &order.params,
            credits: order.credits,
            result_format: order.result_format,
            results: [],
        }
    }
}

/// `new_operation` and `finish_operation`: the probe took on or let go of an operation that
/// costs `credits`. The original names no operation here.
#[derive(Debug, Deserialize)]
pub struct CreditsChange {
    /// The operation's `credits`, as it was emitted to the probe.
    pub credits: u64,
}

/// `results`: one execution's output file.
#[derive(Debug, Deserialize)]
pub struct LegacyResult {
    /// The operation's `_id`; the acknowledgement echoes it.
    pub operation_id: String,
    /// The file: scamper's warts, or dig's text output gzipped.
    pub content: Bytes,
    /// The execution's identifier (a UUID): the same code re-sent is stored once.
    pub unique_code: String,
    /// `warts` or `gzip`.
    pub format: String,
}

/// Why a `results` payload cannot be stored; the message names the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadResult {
    /// `format` is neither `warts` nor `gzip`.
    #[error("format: {0:?} is neither \"warts\" nor \"gzip\"")]
    Format(String),
    /// `content` is not gzip, or not text once inflated.
    #[error("content: {0}")]
    Content(String),
}

/// The report our ingest takes for `result`, measured now (the original client sends no
/// time). Warts is kept as base64 ([`ContentFormat::Warts`]); gzip is inflated to dig's text,
/// at most `max_bytes` of it.
pub fn report(result: LegacyResult, max_bytes: usize) -> Result<ResultReport, BadResult> {
    let (format, text) = match result.format.as_str() {
        "warts" => {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(&result.content);
            (ContentFormat::Warts, encoded)
        }
        "gzip" => (ContentFormat::Text, inflate(&result.content, max_bytes)?),
        other => return Err(BadResult::Format(other.to_string())),
    };
    Ok(ResultReport {
        operation_id: result.operation_id,
        unique_code: result.unique_code,
        format,
        content: RawContent::from_value(&Value::String(text)),
        measured_at: Utc::now(),
        error: None,
    })
}

/// Inflates gzip, refusing more than `max_bytes` of output (a small file can inflate to
/// gigabytes).
fn inflate(content: &[u8], max_bytes: usize) -> Result<String, BadResult> {
    let mut text = Vec::new();
    let limit = max_bytes as u64 + 1;
    GzDecoder::new(content)
        .take(limit)
        .read_to_end(&mut text)
        .map_err(|e| BadResult::Content(format!("not gzip: {e}")))?;
    if text.len() > max_bytes {
        return Err(BadResult::Content(format!(
            "inflates to more than {max_bytes} bytes"
        )));
    }
    String::from_utf8(text).map_err(|_| BadResult::Content("not UTF-8 text once inflated".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn result(format: &str, content: &[u8]) -> LegacyResult {
        LegacyResult {
            operation_id: "0123456789abcdef01234567".into(),
            content: Bytes::copy_from_slice(content),
            unique_code: "u".into(),
            format: format.into(),
        }
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn warts_is_kept_as_base64_and_gzip_inflated_to_text() {
        let warts = report(result("warts", &[0x12, 0x05, 0xff]), 100).unwrap();
        assert_eq!(warts.format, ContentFormat::Warts);
        assert_eq!(warts.content.get(), "\"EgX/\"");
        let dig = report(result("gzip", &gzip(b";; ANSWER")), 100).unwrap();
        assert_eq!(dig.format, ContentFormat::Text);
        assert_eq!(dig.content.get(), "\";; ANSWER\"");
    }

    #[test]
    fn unknown_formats_bad_gzip_and_bombs_are_refused() {
        let refused = |r| report(r, 100).unwrap_err();
        assert!(matches!(
            refused(result("json", b"{}")),
            BadResult::Format(_)
        ));
        assert!(matches!(
            refused(result("gzip", b"plain")),
            BadResult::Content(_)
        ));
        let bomb = gzip(&[b'a'; 101]);
        assert!(refused(result("gzip", &bomb))
            .to_string()
            .contains("more than 100"));
        assert!(report(result("gzip", &gzip(&[b'a'; 100])), 100).is_ok());
    }
}
