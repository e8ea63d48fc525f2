//! The documents as MongoDB stores them, and their conversion to and from the records.
//!
//! The records serialise identifiers as hex strings (their API form); here every identifier is a
//! real ObjectId, so that documents stay compatible with the original pladmed-backend and
//! `_id` order is creation order. Amounts are 64-bit signed integers, times BSON dates (whole
//! milliseconds), locations GeoJSON points.

use super::{content, json};
use crate::domain::{Credits, Email, Location};
use crate::store::{
    AssignmentState, Link, MeasurementResult, Operation, Probe, ResultAllowance, SessionId,
    StoreError, StoreResult, User,
};
use bson::oid::ObjectId;
use bson::{DateTime, RawBson, RawDocumentBuf};
use probe_protocol::{ContentFormat, OperationKind, ResultFormat};
use serde::{Deserialize, Serialize};

/// A `users` document.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct UserDoc {
    #[serde(rename = "_id")]
    id: ObjectId,
    email: String,
    password: String,
    credits: i64,
    is_superuser: bool,
}

impl From<&User> for UserDoc {
    fn from(user: &User) -> Self {
        UserDoc {
            id: user.id.oid(),
            email: user.email.as_str().to_owned(),
            password: user.password_hash.clone(),
            credits: user.credits.as_i64(),
            is_superuser: user.is_superuser,
        }
    }
}

impl TryFrom<UserDoc> for User {
    type Error = StoreError;
    fn try_from(doc: UserDoc) -> StoreResult<User> {
        Ok(User {
            id: doc.id.into(),
            email: Email::parse(&doc.email).map_err(|e| corrupt("user", doc.id, e))?,
            password_hash: doc.password,
            credits: Credits::from_stored(doc.credits).map_err(|e| corrupt("user", doc.id, e))?,
            is_superuser: doc.is_superuser,
        })
    }
}

/// A GeoJSON point, `[longitude, latitude]` as GeoJSON orders them.
#[derive(Debug, Serialize, Deserialize)]
struct PointDoc {
    r#type: String,
    coordinates: [f64; 2],
}

/// A `probes` document.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ProbeDoc {
    #[serde(rename = "_id")]
    id: ObjectId,
    owner: ObjectId,
    location: PointDoc,
    token_version: i64,
    link: Option<LinkDoc>,
}

/// The `link` of a connected probe.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LinkDoc {
    instance: String,
    session: String,
    total_credits: i64,
    in_use_credits: i64,
    clock_offset_ms: Option<f64>,
    connected_at: DateTime,
}

impl From<&Probe> for ProbeDoc {
    fn from(probe: &Probe) -> Self {
        let location = probe.location;
        ProbeDoc {
            id: probe.id.oid(),
            owner: probe.owner.oid(),
            location: PointDoc {
                r#type: "Point".into(),
                coordinates: [location.longitude(), location.latitude()],
            },
            token_version: probe.token_version.into(),
            link: probe.link.as_ref().map(LinkDoc::from),
        }
    }
}

impl TryFrom<ProbeDoc> for Probe {
    type Error = StoreError;
    fn try_from(doc: ProbeDoc) -> StoreResult<Probe> {
        let bad = |e: String| corrupt("probe", doc.id, e);
        let [longitude, latitude] = doc.location.coordinates;
        Ok(Probe {
            id: doc.id.into(),
            owner: doc.owner.into(),
            location: Location::new(latitude, longitude).map_err(bad)?,
            token_version: u32::try_from(doc.token_version)
                .map_err(|_| bad(format!("token_version {} out of range", doc.token_version)))?,
            link: doc.link.map(Link::try_from).transpose().map_err(bad)?,
        })
    }
}

impl From<&Link> for LinkDoc {
    fn from(link: &Link) -> Self {
        LinkDoc {
            instance: link.instance.clone(),
            session: link.session.0.clone(),
            total_credits: clamp_i64(link.total_credits),
            in_use_credits: clamp_i64(link.in_use_credits),
            clock_offset_ms: link.clock_offset_ms,
            connected_at: DateTime::from_chrono(link.connected_at),
        }
    }
}

impl TryFrom<LinkDoc> for Link {
    type Error = String;
    fn try_from(doc: LinkDoc) -> Result<Link, String> {
        Ok(Link {
            instance: doc.instance,
            session: SessionId(doc.session),
            total_credits: unsigned("link.total_credits", doc.total_credits)?,
            in_use_credits: unsigned("link.in_use_credits", doc.in_use_credits)?,
            clock_offset_ms: doc.clock_offset_ms,
            connected_at: doc.connected_at.to_chrono(),
        })
    }
}

/// An `operations` document, shaped as the original's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct OperationDoc {
    #[serde(rename = "_id")]
    id: ObjectId,
    operation: OperationKind,
    params: RawDocumentBuf,
    probes: Vec<ObjectId>,
    owner: ObjectId,
    credits: i64,
    credits_per_probe: i64,
    result_format: ResultFormat,
    stop_time: DateTime,
    created_at: DateTime,
    /// Absent in operations stored before quotas existed: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_results_per_probe: Option<i64>,
}

impl TryFrom<&Operation> for OperationDoc {
    type Error = StoreError;
    fn try_from(operation: &Operation) -> StoreResult<Self> {
        Ok(OperationDoc {
            id: operation.id.oid(),
            operation: operation.kind,
            params: json::to_raw_document(&operation.params)
                .map_err(|e| unstorable("operation params", e))?,
            probes: operation.probes.iter().map(|p| p.oid()).collect(),
            owner: operation.owner.oid(),
            credits: operation.credits.as_i64(),
            credits_per_probe: clamp_i64(operation.credits_per_probe),
            result_format: operation.result_format,
            stop_time: DateTime::from_chrono(operation.stop_time),
            created_at: DateTime::from_chrono(operation.created_at),
            max_results_per_probe: Some(clamp_i64(operation.max_results_per_probe)),
        })
    }
}

impl TryFrom<OperationDoc> for Operation {
    type Error = StoreError;
    fn try_from(doc: OperationDoc) -> StoreResult<Operation> {
        let bad = |e: String| corrupt("operation", doc.id, e);
        Ok(Operation {
            id: doc.id.into(),
            owner: doc.owner.into(),
            kind: doc.operation,
            params: json::from_raw_document(doc.params).map_err(bad)?,
            probes: doc.probes.into_iter().map(Into::into).collect(),
            credits: Credits::from_stored(doc.credits).map_err(|e| bad(e.to_string()))?,
            credits_per_probe: unsigned("credits_per_probe", doc.credits_per_probe).map_err(bad)?,
            result_format: doc.result_format,
            stop_time: doc.stop_time.to_chrono(),
            created_at: doc.created_at.to_chrono(),
            max_results_per_probe: match doc.max_results_per_probe {
                Some(max) => unsigned("max_results_per_probe", max).map_err(bad)?,
                None => u64::MAX,
            },
        })
    }
}

/// An `assignments` document: where one operation stands on one probe, and what it may still
/// deliver. Assignments stored before quotas existed have neither `allowance` nor `results`,
/// and no limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct AssignmentDoc {
    pub(super) operation: ObjectId,
    pub(super) probe: ObjectId,
    pub(super) state: AssignmentState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) allowance: Option<AllowanceDoc>,
    /// Results stored for the assignment, moved with each insert in its transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) results: Option<i64>,
    /// When `results` was last counted up (see `quota`): how old a reservation may be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) counted_at: Option<DateTime>,
}

/// A [`ResultAllowance`] as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct AllowanceDoc {
    max_results: i64,
    measured_from: DateTime,
    measured_until: DateTime,
}

impl From<ResultAllowance> for AllowanceDoc {
    fn from(allowance: ResultAllowance) -> Self {
        AllowanceDoc {
            max_results: clamp_i64(allowance.max_results),
            measured_from: DateTime::from_chrono(allowance.measured_from),
            measured_until: DateTime::from_chrono(allowance.measured_until),
        }
    }
}

impl AllowanceDoc {
    /// The allowance; a negative maximum (never written) reads as none allowed.
    pub(super) fn allowance(&self) -> ResultAllowance {
        ResultAllowance {
            max_results: u64::try_from(self.max_results).unwrap_or(0),
            measured_from: self.measured_from.to_chrono(),
            measured_until: self.measured_until.to_chrono(),
        }
    }
}

/// The stored name of an assignment state, for filters.
pub(super) fn state_name(state: AssignmentState) -> &'static str {
    match state {
        AssignmentState::Assigned => "assigned",
        AssignmentState::Accepted => "accepted",
        AssignmentState::Finished => "finished",
    }
}

/// A `results` document: one result, never an array inside the operation (which the original
/// did, until an operation hit MongoDB's 16 MB document limit).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ResultDoc {
    #[serde(rename = "_id")]
    pub(super) id: ObjectId,
    pub(super) operation: ObjectId,
    pub(super) probe: ObjectId,
    pub(super) unique_code: String,
    format: ContentFormat,
    content: RawBson,
    error: Option<String>,
    measured_at: DateTime,
    received_at: DateTime,
    /// The settlement that pays the result's reward (see `settlement`); absent for results
    /// that earned nothing (imported ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) settlement: Option<ObjectId>,
}

impl TryFrom<&MeasurementResult> for ResultDoc {
    type Error = StoreError;
    fn try_from(result: &MeasurementResult) -> StoreResult<Self> {
        Ok(ResultDoc {
            id: result.id.oid(),
            operation: result.operation.oid(),
            probe: result.probe.oid(),
            unique_code: result.unique_code.clone(),
            format: result.format,
            content: content::to_bson(&result.content)
                .map_err(|e| unstorable("result content", e))?,
            error: result.error.clone(),
            measured_at: DateTime::from_chrono(result.measured_at),
            received_at: DateTime::from_chrono(result.received_at),
            settlement: None,
        })
    }
}

impl ResultDoc {
    /// When the result was measured, as stored (whole milliseconds).
    pub(super) fn measured_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.measured_at.to_chrono()
    }
}

impl TryFrom<ResultDoc> for MeasurementResult {
    type Error = StoreError;
    fn try_from(doc: ResultDoc) -> StoreResult<MeasurementResult> {
        Ok(MeasurementResult {
            id: doc.id.into(),
            operation: doc.operation.into(),
            probe: doc.probe.into(),
            unique_code: doc.unique_code,
            format: doc.format,
            content: content::to_json(&doc.content).map_err(|e| corrupt("result", doc.id, e))?,
            error: doc.error,
            measured_at: doc.measured_at.to_chrono(),
            received_at: doc.received_at.to_chrono(),
        })
    }
}

/// Amounts past `i64::MAX` (9.2 × 10¹⁸) cannot be stored; a probe claiming such a capacity is
/// treated as having `i64::MAX` rather than having its link refused.
pub(super) fn clamp_i64(amount: u64) -> i64 {
    i64::try_from(amount).unwrap_or(i64::MAX)
}

fn unsigned(field: &str, stored: i64) -> Result<u64, String> {
    u64::try_from(stored).map_err(|_| format!("{field} is negative ({stored})"))
}

fn corrupt(what: &str, id: ObjectId, cause: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what} {id}: {cause}"))
}

/// A value BSON cannot represent (e.g. an integer past `i64::MAX`, a key with a NUL byte):
/// retrying cannot help, so it is not [`StoreError::Unavailable`].
fn unstorable(what: &str, cause: String) -> StoreError {
    StoreError::Corrupt(format!("{what} cannot be stored in MongoDB: {cause}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_are_the_serialised_states() {
        use AssignmentState::{Accepted, Assigned, Finished};
        for state in [Assigned, Accepted, Finished] {
            assert_eq!(
                bson::to_bson(&state).unwrap(),
                bson::Bson::from(state_name(state))
            );
        }
    }
}
