//! JSON shapes of the API, field for field those the original backend and its frontend use.

use crate::domain::{ProbeId, ResultId};
use crate::store::{MeasurementResult, Operation, Probe, User};
use chrono::{DateTime, Utc};
use probe_protocol::{ContentFormat, OperationKind, RawContent};
use serde::Serialize;
use serde_json::{json, Value};

/// `{_id, email, credits, is_superuser}`; never the password hash.
pub fn user(user: &User) -> Value {
    json!({
        "_id": user.id,
        "email": user.email,
        "credits": user.credits,
        "is_superuser": user.is_superuser,
    })
}

/// `{identifier, owner_id, location, connected, availability, ...}`, plus `token` only for the
/// owner's own listing.
pub fn probe(probe: &Probe, token: Option<String>) -> Value {
    let link = probe.link.as_ref();
    let mut view = json!({
        "identifier": probe.id,
        "owner_id": probe.owner,
        "location": {
            "latitude": probe.location.latitude(),
            "longitude": probe.location.longitude(),
        },
        "connected": link.is_some(),
        "availability": link.map_or(0.0, |l| l.availability()),
        "total_credits": link.map(|l| l.total_credits),
        "in_use_credits": link.map(|l| l.in_use_credits),
        "clock_offset_ms": link.and_then(|l| l.clock_offset_ms),
    });
    if let Some(token) = token {
        view["token"] = Value::String(token);
    }
    view
}

/// The name of an operation kind in the API.
pub fn kind(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::Traceroute => "traceroute",
        OperationKind::Ping => "ping",
        OperationKind::Dns => "dns",
    }
}

/// An operation without its results.
pub fn operation(operation: &Operation) -> Value {
    json!({
        "_id": operation.id,
        "operation": kind(operation.kind),
        "owner": operation.owner,
        "probes": operation.probes.iter().map(|p| json!({ "identifier": p })).collect::<Vec<_>>(),
        "params": operation.params,
        "credits": operation.credits,
        "credits_per_probe": operation.credits_per_probe,
        "result_format": operation.result_format,
        "stop_time": operation.stop_time,
        "created_at": operation.created_at,
    })
}

/// One result entry: `{"probe": id, "results": content, ...}` as the original, with extras.
/// Serialised straight from the stored result: the content is written as the text the probe
/// sent, never built into a tree (it can be as large as a frame).
#[derive(Serialize)]
pub struct ResultView<'a> {
    #[serde(rename = "_id")]
    id: ResultId,
    probe: ProbeId,
    results: &'a RawContent,
    unique_code: &'a str,
    format: ContentFormat,
    error: Option<&'a str>,
    measured_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
}

/// The entry of `result`.
pub fn result(result: &MeasurementResult) -> ResultView<'_> {
    ResultView {
        id: result.id,
        probe: result.probe,
        results: &result.content,
        unique_code: &result.unique_code,
        format: result.format,
        error: result.error.as_deref(),
        measured_at: result.measured_at,
        received_at: result.received_at,
    }
}
