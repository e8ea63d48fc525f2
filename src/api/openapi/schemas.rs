//! The JSON shapes of the API as OpenAPI schemas.
//!
//! Handlers build their replies in `views.rs`; these types describe those replies field for
//! field (`tests/api/openapi.rs` compares live replies with them, so a drift fails a test).
//! They are never constructed: they exist to be read by the document generator.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// POST /register and /login.
#[derive(Serialize, ToSchema)]
pub struct Credentials {
    /// E-mail address.
    #[schema(example = "researcher@example.org")]
    pub email: String,
    /// At register: at least 8 characters with a lower-case and an upper-case letter, a digit
    /// and a symbol.
    #[schema(example = "Str0ng!Pass")]
    pub password: String,
}

/// POST /login's answer.
#[derive(Serialize, ToSchema)]
pub struct AccessToken {
    /// A user JWT for the `access_token` header (or `Authorization: Bearer`).
    pub access_token: String,
}

/// An account.
#[derive(Serialize, ToSchema)]
pub struct User {
    /// Identifier (24 hexadecimal digits).
    #[serde(rename = "_id")]
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// Balance.
    pub credits: u64,
    /// May grant credits.
    pub is_superuser: bool,
}

/// POST /credits.
#[derive(Serialize, ToSchema)]
pub struct CreditGrant {
    /// The user's identifier.
    pub id: String,
    /// Credits to add, a whole number greater than zero.
    #[schema(minimum = 1)]
    pub credits: u64,
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

/// POST /probes.
#[derive(Serialize, ToSchema)]
pub struct ProbeRegistration {
    /// Where the probe is.
    pub location: Location,
}

/// A probe and its link state.
#[derive(Serialize, ToSchema)]
pub struct Probe {
    /// Identifier (24 hexadecimal digits).
    pub identifier: String,
    /// The owner's user identifier.
    pub owner_id: String,
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

/// Operation kinds.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    /// scamper trace.
    Traceroute,
    /// scamper ping.
    Ping,
    /// dig.
    Dns,
}

/// How results are encoded.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultFormat {
    /// scamper JSON.
    Json,
    /// `sc_analysis_dump` text (traceroute only).
    Dump,
    /// Plain text (dns).
    Text,
    /// base64 of scamper warts.
    Warts,
}

/// POST /traceroute, /ping and /dns.
#[derive(Serialize, ToSchema)]
pub struct OperationRequest {
    /// Identifiers of the probes to run it on (at least one).
    #[schema(min_items = 1)]
    pub probes: Vec<String>,
    /// Parameters: `cron`, `stop_time` (`dd/mm/YYYY HH:MM`, UTC), `times_per_minute` and the
    /// kind's own (see docs/api.md).
    #[schema(value_type = Object, example = json!({"cron": "* * * * *", "stop_time": "31/12/2030 23:59", "times_per_minute": 1, "ips": ["192.0.2.1"]}))]
    pub params: Value,
    /// `json` (default) or `dump` for traceroute; ignored for ping (json) and dns (text).
    pub result_format: Option<String>,
}

/// A probe an operation was assigned to.
#[derive(Serialize, ToSchema)]
pub struct ProbeRef {
    /// Probe identifier.
    pub identifier: String,
}

/// One result of one execution on one probe.
#[derive(Serialize, ToSchema)]
pub struct MeasurementResult {
    /// Identifier, also the `after` cursor of result pages.
    #[serde(rename = "_id")]
    pub id: String,
    /// The probe that measured it.
    pub probe: String,
    /// The measurement output (JSON, or a string for dump, text and warts).
    pub results: Value,
    /// The probe's identifier for this execution.
    pub unique_code: String,
    /// Encoding of `results`.
    pub format: ResultFormat,
    /// The tool's error, if it failed.
    pub error: Option<String>,
    /// When the probe measured it (RFC 3339).
    pub measured_at: String,
    /// When the server stored it (RFC 3339).
    pub received_at: String,
}

/// An operation.
#[derive(Serialize, ToSchema)]
pub struct Operation {
    /// Identifier (24 hexadecimal digits).
    #[serde(rename = "_id")]
    pub id: String,
    /// Its kind.
    pub operation: OperationKind,
    /// The owner's user identifier.
    pub owner: String,
    /// The probes it was assigned to.
    pub probes: Vec<ProbeRef>,
    /// The parameters as submitted.
    #[schema(value_type = Object)]
    pub params: Value,
    /// Credits paid in total.
    pub credits: u64,
    /// Credits one probe's share costs.
    pub credits_per_probe: u64,
    /// How results are encoded.
    pub result_format: ResultFormat,
    /// The start of the last minute it runs in (RFC 3339); it runs until that minute is over.
    pub stop_time: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Results: none at creation, every one in GET /operation (streamed), absent in listings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<MeasurementResult>>,
}

/// One page of GET /operations/{id}/results.
#[derive(Serialize, ToSchema)]
pub struct ResultsPage {
    /// Results in storage order.
    pub results: Vec<MeasurementResult>,
    /// The `after` cursor of the next page; null on the last page. Set when the page is full by
    /// count and more follow, or when it ended at its byte bound (the next page may be empty).
    pub next: Option<String>,
}

/// Every error.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, naming the field at fault.
    #[serde(rename = "Error")]
    pub error: String,
}

/// GET /healthz.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    /// Always `alive`.
    #[schema(example = "alive")]
    pub status: String,
}
