//! The original pladmed-backend's documents, read leniently and turned into our records.
//!
//! Its schema (pymongo, no validation): `users {_id, email, password, credits, is_superuser}`
//! with passlib `pbkdf2_sha256` hashes and credits that can be fractional (operations were
//! priced by estimated executions); `probes {_id, owner, location: GeoJSON point}`;
//! `operations {_id, operation, params, probes: [ObjectId], owner, credits, result_format,
//! results: [{probe, results, unique_code}]}`, where `results` is scamper's JSON objects (a
//! list) for json operations and a string for dump and dns. Nothing records a time but the
//! ObjectIds, so an operation's creation, and its results' measurement and reception, are its
//! `_id`'s timestamp.

use crate::domain::{Credits, Email, Location, ProbeId, ResultId};
use crate::store::{ImportedOperation, MeasurementResult, Operation, Probe, User};
use bson::oid::ObjectId;
use bson::{Bson, Document};
use chrono::{DateTime, NaiveDateTime, Utc};
use probe_protocol::params;
use probe_protocol::{ContentFormat, OperationKind, RawContent, ResultFormat};
use serde_json::{Map, Value};

/// Why a document was not imported; names the field at fault.
pub(super) type Refusal = String;

/// A `users` document. Credits are rounded down to a whole number.
pub(super) fn user(doc: &Document) -> Result<User, Refusal> {
    let email = text(doc, "email")?;
    Ok(User {
        id: object_id(doc, "_id")?.into(),
        email: Email::parse(email).map_err(|e| format!("email {email:?}: {e}"))?,
        password_hash: text(doc, "password")?.to_owned(),
        credits: whole_credits(doc.get("credits"), f64::floor),
        is_superuser: doc.get_bool("is_superuser").unwrap_or(false),
    })
}

/// A `probes` document; token version 0, which the original's tokens stand for.
pub(super) fn probe(doc: &Document) -> Result<Probe, Refusal> {
    let coordinates = doc
        .get_document("location")
        .and_then(|l| l.get_array("coordinates"))
        .map_err(|_| "location: no GeoJSON coordinates".to_string())?;
    let [longitude, latitude] = [0, 1].map(|i| coordinates.get(i).and_then(number));
    let (Some(longitude), Some(latitude)) = (longitude, latitude) else {
        return Err("location: coordinates are not [longitude, latitude]".into());
    };
    Ok(Probe {
        id: object_id(doc, "_id")?.into(),
        owner: object_id(doc, "owner")?.into(),
        location: Location::new(latitude, longitude)?,
        token_version: crate::accounts::LEGACY_TOKEN_VERSION,
        link: None,
    })
}

/// An `operations` document with the results pushed inside it. Results that cannot be read
/// are left out and counted in the second value.
pub(super) fn operation(doc: &Document) -> Result<(ImportedOperation, u64), Refusal> {
    let oid = object_id(doc, "_id")?;
    let created_at = oid.timestamp().to_chrono();
    let kind: OperationKind = bson::from_bson(Bson::String(text(doc, "operation")?.to_owned()))
        .map_err(|_| "operation: not traceroute, ping or dns".to_string())?;
    let params = match doc.get("params") {
        Some(Bson::Document(p)) => match Bson::Document(p.clone()).into_relaxed_extjson() {
            Value::Object(map) => map,
            _ => Map::new(),
        },
        _ => return Err("params: missing".into()),
    };
    let probes: Vec<ProbeId> = match doc.get("probes") {
        Some(Bson::Array(ids)) => ids
            .iter()
            .filter_map(bson_object_id)
            .map(Into::into)
            .collect(),
        _ => Vec::new(),
    };
    let credits = whole_credits(doc.get("credits"), f64::round);
    let per_probe = credits.get().div_ceil(probes.len().max(1) as u64);
    let operation = Operation {
        id: oid.into(),
        owner: object_id(doc, "owner")?.into(),
        kind,
        result_format: result_format(kind, doc.get_str("result_format").ok()),
        stop_time: stop_time(&params).unwrap_or(created_at),
        max_results_per_probe: params::parse(kind, &params, created_at)
            .map_or(u64::MAX, |p| p.max_results(created_at)),
        params,
        probes,
        credits,
        credits_per_probe: per_probe,
        created_at,
    };
    let (results, unreadable) = results(doc, &operation);
    Ok((ImportedOperation { operation, results }, unreadable))
}

/// The results pushed inside the operation, and how many could not be read.
fn results(doc: &Document, operation: &Operation) -> (Vec<MeasurementResult>, u64) {
    let Ok(pushed) = doc.get_array("results") else {
        return (Vec::new(), 0);
    };
    let mut results = Vec::with_capacity(pushed.len());
    for entry in pushed {
        match entry
            .as_document()
            .ok_or_else(String::new)
            .and_then(|r| result(r, operation))
        {
            Ok(result) => results.push(result),
            Err(refusal) => {
                tracing::warn!(operation = %operation.id, %refusal, "result not imported")
            }
        }
    }
    let unreadable = (pushed.len() - results.len()) as u64;
    (results, unreadable)
}

/// One pushed result: `{probe, results, unique_code}`.
fn result(doc: &Document, operation: &Operation) -> Result<MeasurementResult, Refusal> {
    let unique_code = match doc.get("unique_code") {
        Some(Bson::String(code)) if !code.is_empty() => code.clone(),
        Some(other) if !matches!(other, Bson::Null | Bson::String(_)) => {
            other.clone().into_relaxed_extjson().to_string()
        }
        _ => return Err("unique_code: missing".into()),
    };
    let (format, content) = content(doc.get("results"), operation.result_format);
    Ok(MeasurementResult {
        id: ResultId::generate(),
        operation: operation.id,
        probe: object_id(doc, "probe")?.into(),
        unique_code,
        format,
        content,
        error: None,
        measured_at: operation.created_at,
        received_at: operation.created_at,
    })
}

/// scamper's objects (a list) are JSON; a string is the dump or dig text it holds, or the empty
/// string the original stored when a probe sent a format the operation did not ask for.
fn content(results: Option<&Bson>, format: ResultFormat) -> (ContentFormat, RawContent) {
    match results {
        Some(Bson::String(text)) => {
            let format = match format {
                ResultFormat::Dump => ContentFormat::Dump,
                ResultFormat::Json | ResultFormat::Text => ContentFormat::Text,
            };
            (format, RawContent::from_value(&Value::String(text.clone())))
        }
        Some(other) => (
            ContentFormat::Json,
            RawContent::from_value(&other.clone().into_relaxed_extjson()),
        ),
        None => (ContentFormat::Json, RawContent::from_value(&Value::Null)),
    }
}

/// Traceroute offered json and dump, ping always json, dns always text.
fn result_format(kind: OperationKind, stored: Option<&str>) -> ResultFormat {
    match (kind, stored) {
        (OperationKind::Traceroute, Some("dump")) => ResultFormat::Dump,
        (OperationKind::Traceroute | OperationKind::Ping, _) => ResultFormat::Json,
        (OperationKind::Dns, _) => ResultFormat::Text,
    }
}

/// The `stop_time` parameter (`dd/mm/YYYY HH:MM`, UTC), if it reads as one.
fn stop_time(params: &Map<String, Value>) -> Option<DateTime<Utc>> {
    let text = params.get("stop_time")?.as_str()?;
    let time = NaiveDateTime::parse_from_str(text.trim(), "%d/%m/%Y %H:%M").ok()?;
    Some(time.and_utc())
}

/// A stored amount as whole credits: `whole` rounds a fraction; negative or missing is 0.
fn whole_credits(stored: Option<&Bson>, whole: fn(f64) -> f64) -> Credits {
    let amount = stored.and_then(number).map_or(0.0, whole);
    let clamped = amount.clamp(0.0, crate::domain::MAX_CREDITS as f64);
    Credits::new(clamped as u64).unwrap_or(Credits::ZERO)
}

fn number(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(n) if n.is_finite() => Some(*n),
        _ => None,
    }
}

fn text<'a>(doc: &'a Document, field: &str) -> Result<&'a str, Refusal> {
    doc.get_str(field)
        .map_err(|_| format!("{field}: missing or not a string"))
}

fn object_id(doc: &Document, field: &str) -> Result<ObjectId, Refusal> {
    doc.get(field)
        .and_then(bson_object_id)
        .ok_or_else(|| format!("{field}: missing or not an ObjectId"))
}

/// An ObjectId, or its 24 hex digits as a string (as the original sometimes passed them on).
fn bson_object_id(value: &Bson) -> Option<ObjectId> {
    match value {
        Bson::ObjectId(id) => Some(*id),
        Bson::String(hex) => ObjectId::parse_str(hex).ok(),
        _ => None,
    }
}

/// The document's `_id`, for messages.
pub(super) fn id_of(doc: &Document) -> String {
    doc.get("_id")
        .and_then(bson_object_id)
        .map_or_else(|| "(no _id)".into(), |id| id.to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn reads_the_original_schema() {
        let owner = ObjectId::new();
        let user = user(&doc! {
            "_id": owner, "email": "old@example.org", "password": "$pbkdf2-sha256$1$AQ$x",
            "credits": 62.5, "is_superuser": false,
        })
        .unwrap();
        assert_eq!(user.credits.get(), 62);
        let probe = probe(&doc! {
            "_id": ObjectId::new(), "owner": owner,
            "location": { "type": "Point", "coordinates": [-58.38, -34.6] },
        })
        .unwrap();
        assert_eq!(probe.location.latitude(), -34.6);
        let (imported, unreadable) = operation(&doc! {
            "_id": ObjectId::new(), "operation": "traceroute", "owner": owner,
            "params": { "ips": ["192.0.2.1"], "cron": "* * * * *", "stop_time": "01/02/2021 10:30", "times_per_minute": 1 },
            "probes": [probe.id.oid()], "credits": 37.5, "result_format": "dump",
            "results": [
                { "probe": probe.id.oid(), "results": "T 192.0.2.1", "unique_code": "a" },
                { "probe": "not an id", "results": "", "unique_code": "b" },
            ],
        })
        .unwrap();
        assert_eq!(unreadable, 1);
        assert_eq!(imported.operation.credits.get(), 38);
        assert_eq!(imported.operation.result_format, ResultFormat::Dump);
        assert_eq!(
            imported.operation.stop_time.to_rfc3339(),
            "2021-02-01T10:30:00+00:00"
        );
        assert_eq!(imported.results[0].format, ContentFormat::Dump);
        assert_eq!(imported.results[0].content.get(), "\"T 192.0.2.1\"");
    }

    #[test]
    fn refusals_name_the_field() {
        let refused = user(&doc! { "_id": ObjectId::new(), "email": "x", "password": "p" });
        assert!(refused.unwrap_err().starts_with("email"));
        let refused = probe(&doc! { "_id": ObjectId::new(), "owner": ObjectId::new() });
        assert!(refused.unwrap_err().starts_with("location"));
    }
}
