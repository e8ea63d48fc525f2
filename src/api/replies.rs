//! The JSON shapes of the API's replies, field for field those the original backend and its
//! frontend use. Each is built from the stored record it shows and derives its OpenAPI schema,
//! so the document describes exactly what is sent: a field added here is in both.

use crate::domain::{Credits, OperationId, ProbeId, ResultId, UserId};
use crate::store;
use chrono::{DateTime, Utc};
use probe_protocol::{ContentFormat, OperationKind, RawContent, ResultFormat};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// An account.
#[derive(Serialize, ToSchema)]
pub struct User<'a> {
    /// Identifier (24 hexadecimal digits).
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: UserId,
    /// E-mail address.
    pub email: &'a str,
    /// Balance.
    #[schema(value_type = u64)]
    pub credits: Credits,
    /// May grant credits.
    pub is_superuser: bool,
}

/// Never the password hash.
impl<'a> From<&'a store::User> for User<'a> {
    fn from(user: &'a store::User) -> Self {
        Self {
            id: user.id,
            email: user.email.as_str(),
            credits: user.credits,
            is_superuser: user.is_superuser,
        }
    }
}

/// POST /login's answer.
#[derive(Serialize, ToSchema)]
pub struct AccessToken {
    /// A user JWT for the `access_token` header (or `Authorization: Bearer`).
    pub access_token: String,
}

/// Where a probe is.
#[derive(Serialize, ToSchema)]
pub struct Location {
    /// Degrees, -90 to 90.
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub latitude: f64,
    /// Degrees, -180 to 180.
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub longitude: f64,
}

impl From<crate::domain::Location> for Location {
    fn from(location: crate::domain::Location) -> Self {
        Self {
            latitude: location.latitude(),
            longitude: location.longitude(),
        }
    }
}

/// A probe and its link state.
#[derive(Serialize, ToSchema)]
pub struct Probe {
    /// Identifier (24 hexadecimal digits).
    #[schema(value_type = String)]
    pub identifier: ProbeId,
    /// The owner's user identifier.
    #[schema(value_type = String)]
    pub owner_id: UserId,
    /// Where the probe is.
    pub location: Location,
    /// Whether the probe's WebSocket is up.
    pub connected: bool,
    /// Share of its credits that are free, 0 when disconnected.
    pub availability: f64,
    /// Credits the probe offers, from its `hello`; null when disconnected.
    pub total_credits: Option<u64>,
    /// Credits in use by accepted operations; null when disconnected.
    pub in_use_credits: Option<u64>,
    /// The probe's clock offset from its NTP server, from its `hello`.
    pub clock_offset_ms: Option<f64>,
    /// The probe's token, only in its owner's views (POST /probes, GET /probes/me).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// The public fields (no token): what anyone may see.
impl From<&store::Probe> for Probe {
    fn from(probe: &store::Probe) -> Self {
        let link = probe.link.as_ref();
        Self {
            identifier: probe.id,
            owner_id: probe.owner,
            location: probe.location.into(),
            connected: link.is_some(),
            availability: link.map_or(0.0, |l| l.availability()),
            total_credits: link.map(|l| l.total_credits),
            in_use_credits: link.map(|l| l.in_use_credits),
            clock_offset_ms: link.and_then(|l| l.clock_offset_ms),
            token: None,
        }
    }
}

impl Probe {
    /// The owner's view: the public fields and the probe's token.
    pub fn owned(probe: &store::Probe, token: String) -> Self {
        Self {
            token: Some(token),
            ..Self::from(probe)
        }
    }
}

/// A probe an operation was assigned to.
#[derive(Serialize, ToSchema)]
pub struct ProbeRef {
    /// Probe identifier.
    #[schema(value_type = String)]
    pub identifier: ProbeId,
}

/// An operation.
#[derive(Serialize, ToSchema)]
pub struct Operation<'a> {
    /// Identifier (24 hexadecimal digits).
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: OperationId,
    /// Its kind.
    pub operation: OperationKind,
    /// The owner's user identifier.
    #[schema(value_type = String)]
    pub owner: UserId,
    /// The probes it was assigned to.
    pub probes: Vec<ProbeRef>,
    /// The parameters as submitted.
    #[schema(value_type = Object)]
    pub params: &'a Map<String, Value>,
    /// Credits paid in total.
    #[schema(value_type = u64)]
    pub credits: Credits,
    /// Credits one probe's share costs.
    pub credits_per_probe: u64,
    /// How results are encoded.
    pub result_format: ResultFormat,
    /// The start of the last minute it runs in (RFC 3339); it runs until that minute is over.
    #[schema(value_type = String)]
    pub stop_time: DateTime<Utc>,
    /// When it was created (RFC 3339).
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// Results: none at creation, every one in GET /operation (streamed), absent in listings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<MeasurementResult<'a>>>,
}

/// Without results (as listed).
impl<'a> From<&'a store::Operation> for Operation<'a> {
    fn from(operation: &'a store::Operation) -> Self {
        Self {
            id: operation.id,
            operation: operation.kind,
            owner: operation.owner,
            probes: operation
                .probes
                .iter()
                .map(|&identifier| ProbeRef { identifier })
                .collect(),
            params: &operation.params,
            credits: operation.credits,
            credits_per_probe: operation.credits_per_probe,
            result_format: operation.result_format,
            stop_time: operation.stop_time,
            created_at: operation.created_at,
            results: None,
        }
    }
}

/// One result of one execution on one probe.
// `{"probe": id, "results": content, ...}` as the original, with extras. The content is written
// as the text the probe sent, never built into a tree (it can be as large as a frame).
#[derive(Serialize, ToSchema)]
pub struct MeasurementResult<'a> {
    /// Identifier, also the `after` cursor of result pages.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: ResultId,
    /// The probe that measured it.
    #[schema(value_type = String)]
    pub probe: ProbeId,
    /// The measurement output (JSON, or a string for dump, text and warts).
    #[schema(value_type = serde_json::Value)]
    pub results: &'a RawContent,
    /// The probe's identifier for this execution.
    pub unique_code: &'a str,
    /// Encoding of `results`.
    pub format: ContentFormat,
    /// The tool's error, if it failed.
    pub error: Option<&'a str>,
    /// When the probe measured it (RFC 3339).
    #[schema(value_type = String)]
    pub measured_at: DateTime<Utc>,
    /// When the server stored it (RFC 3339).
    #[schema(value_type = String)]
    pub received_at: DateTime<Utc>,
}

impl<'a> From<&'a store::MeasurementResult> for MeasurementResult<'a> {
    fn from(result: &'a store::MeasurementResult) -> Self {
        Self {
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
}

/// One page of GET /operations/{id}/results.
#[derive(Serialize, ToSchema)]
pub struct ResultsPage<'a> {
    /// Results in storage order.
    pub results: Vec<MeasurementResult<'a>>,
    /// The `after` cursor of the next page; null on the last page. Set when the page is full by
    /// count and more follow, or when it ended at its byte bound (the next page may be empty).
    #[schema(value_type = Option<String>)]
    pub next: Option<ResultId>,
}

/// Every error.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    /// What went wrong, naming the field at fault.
    #[serde(rename = "Error")]
    pub error: &'a str,
}

/// GET /healthz.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    /// Always `alive`.
    #[schema(example = "alive")]
    pub status: &'static str,
}
