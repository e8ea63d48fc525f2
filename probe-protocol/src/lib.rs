//! Wire protocol of the Pladmed probe link, version [`PROTOCOL_VERSION`].
//!
//! A probe opens a WebSocket to `GET` [`LINK_PATH`] (`/probe/ws`) on the coordinator, authenticated with its probe
//! token (`Authorization: Bearer TOKEN` or `?token=TOKEN`). Every application message is one JSON
//! text frame, an object whose `"type"` field names the message. Probes send [`ProbeMessage`]s;
//! the coordinator sends [`ServerMessage`]s. Binary frames are a protocol violation.
//!
//! The sequence is:
//! 1. probe → `hello`; coordinator → `welcome` (or a close with [`close`] codes).
//! 2. coordinator → `operation` whenever an operation is assigned to the probe (again after each
//!    reconnect until the probe has answered `accepted`).
//! 3. probe → `accepted`, then its `result`s, one per run of the schedule (at most
//!    [`params::Params::max_results`], each measured within its [`params::ResultWindow`]), with
//!    at most [`Welcome::window`] of them unacknowledged at a time; coordinator → one
//!    `result_ack` per result, sent only once the result is durably stored (or an `error`
//!    [`error_code::OVER_QUOTA`] / [`error_code::OUTSIDE_WINDOW`]: drop it). A probe re-sends
//!    every result that it has not seen acknowledged; re-sent results are acknowledged with
//!    `duplicate: true` and stored once.
//! 4. probe → `finished` when the operation's schedule is over.
//!
//! This crate is shared by the coordinator, the reference probe and the tests, so that all of them
//! agree on the contract byte for byte. It is also the contract for probes written by others:
//! every public item is documented.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub mod close;
mod content;
mod link;
mod ntp;
pub mod params;
mod streamed;

pub use close::CloseReason;
pub use content::RawContent;
pub use link::{silence_limit, LINK_PATH, MISSED_HEARTBEATS};
pub use ntp::{NtpServer, NTP_PORT};

/// The protocol version this crate implements; `hello.protocol` must equal it.
pub const PROTOCOL_VERSION: u32 = 1;

/// A message a probe sends to the coordinator.
///
/// Decoded in one pass by a hand-written `Deserialize` (serde's derived decoder for a tagged enum
/// would first copy the whole frame into a tree of its own, and cannot carry [`RawContent`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProbeMessage {
    /// First message on every link: who the probe software is and how much it can take on.
    Hello(Hello),
    /// The probe took on an operation it received; its credits count as in use until `finished`.
    Accepted(Accepted),
    /// One execution's result. Re-send until a matching `result_ack` arrives.
    Result(ResultReport),
    /// The operation's schedule is over on this probe; its credits are released.
    Finished(Finished),
}

/// Payload of [`ProbeMessage::Hello`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// Must be [`PROTOCOL_VERSION`]; anything else closes the link with
    /// [`close::PROTOCOL_VIOLATION`].
    pub protocol: u32,
    /// Free-form name and version of the probe software, e.g. `"pladmed-probe/0.1.0"`, at most
    /// [`MAX_AGENT_LEN`] bytes; a longer one closes the link with [`close::PROTOCOL_VIOLATION`].
    pub agent: String,
    /// Total capacity the probe offers, in credits. Must be greater than zero.
    pub total_credits: u64,
    /// Credits already taken by operations the probe is running (e.g. after a reconnect).
    pub in_use_credits: u64,
    /// The probe's clock offset against its NTP server, in milliseconds, if it measured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<f64>,
}

/// Payload of [`ProbeMessage::Accepted`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// The `operation_id` of the `operation` message being accepted.
    pub operation_id: String,
}

/// Payload of [`ProbeMessage::Finished`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finished {
    /// The operation whose schedule is over.
    pub operation_id: String,
}

/// How the `content` of a [`ResultReport`] is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ContentFormat {
    /// `content` is any JSON value (scamper's JSON output: an array of its objects).
    Json,
    /// `content` is a string: `sc_analysis_dump` text output.
    Dump,
    /// `content` is a string: plain text output (dig).
    Text,
    /// `content` is a string: base64 (standard alphabet, padded) of binary scamper warts.
    Warts,
}

/// Payload of [`ProbeMessage::Result`]: the outcome of one execution of an operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultReport {
    /// The operation this result belongs to; it must be assigned to the sending probe.
    pub operation_id: String,
    /// Identifies this execution's result; the same result re-sent keeps the same code, so the
    /// coordinator stores it once. 1 to [`MAX_UNIQUE_CODE_LEN`] bytes.
    pub unique_code: String,
    /// Encoding of `content`.
    pub format: ContentFormat,
    /// The measurement output, encoded as `format` says, kept as the JSON text the probe sent.
    pub content: RawContent,
    /// When the execution ran, by the probe's clock (RFC 3339).
    pub measured_at: DateTime<Utc>,
    /// Set when the measurement tool failed: its error message. `content` then holds whatever
    /// partial output there was (possibly `null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Longest accepted [`Hello::agent`], in bytes: it is logged and kept with the link, so its
/// size must not be the probe's choice.
pub const MAX_AGENT_LEN: usize = 256;

/// Longest accepted [`ResultReport::unique_code`], in bytes.
pub const MAX_UNIQUE_CODE_LEN: usize = 128;

/// A message the coordinator sends to a probe.
///
/// Unlike probe messages, these decode leniently: a field this crate does not know is ignored,
/// so that a coordinator can announce something new (as `welcome.window` was added) without
/// breaking the probes already deployed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Answer to `hello`: the link is established.
    Welcome(Welcome),
    /// An operation assigned to this probe.
    Operation(OperationOrder),
    /// A result is durably stored (or was already stored); the probe may forget it.
    ResultAck(ResultAck),
    /// Something the probe sent was refused without closing the link.
    Error(ErrorNotice),
}

/// Payload of [`ServerMessage::Welcome`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The identifier of the probe the token belongs to.
    pub probe_id: String,
    /// The coordinator's clock when it sent the welcome.
    pub server_time: DateTime<Utc>,
    /// The coordinator pings every `heartbeat_s` seconds, each ping with its own payload. A
    /// probe that has not answered a ping with a pong echoing it by the next ping is dropped
    /// ([`close::TOO_SLOW`]): only reading proves a probe alive, not sending. Either side
    /// holds a link silent for [`MISSED_HEARTBEATS`] periods dead ([`silence_limit`]).
    pub heartbeat_s: u32,
    /// The most results this link may have sent and not yet seen acknowledged (at least 1).
    /// The coordinator reads no further while that many are being stored, and no faster than
    /// its frame rate allows: a probe that sends more waits on TCP back-pressure rather than
    /// being disconnected, but its pongs then wait too. A probe keeps its own window at or
    /// below this one. Absent in welcomes of coordinators that predate it: a probe then
    /// assumes [`DEFAULT_WINDOW`].
    #[serde(default = "default_window")]
    pub window: u32,
}

/// The result window a probe assumes when `welcome` does not announce one.
pub const DEFAULT_WINDOW: u32 = 32;

fn default_window() -> u32 {
    DEFAULT_WINDOW
}

/// The kind of measurement an operation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    /// scamper trace.
    Traceroute,
    /// scamper ping.
    Ping,
    /// dig.
    Dns,
}

/// The output format the operation's owner asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ResultFormat {
    /// scamper JSON (traceroute, ping).
    Json,
    /// `sc_analysis_dump` text (traceroute only).
    Dump,
    /// dig's text output (dns).
    Text,
}

/// Payload of [`ServerMessage::Operation`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationOrder {
    /// Identifier to quote in `accepted`, `result` and `finished`.
    pub operation_id: String,
    /// What to run.
    pub kind: OperationKind,
    /// The parameters exactly as the operation's owner gave them, already validated by the
    /// coordinator against the reference parameter list (see docs/api.md).
    pub params: Map<String, Value>,
    /// Credits this operation takes from the probe's capacity between `accepted` and `finished`.
    pub credits: u64,
    /// Requested output format.
    pub result_format: ResultFormat,
}

/// Payload of [`ServerMessage::ResultAck`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultAck {
    /// Echo of the result's `operation_id`.
    pub operation_id: String,
    /// Echo of the result's `unique_code`.
    pub unique_code: String,
    /// `true` when the result had already been stored before (a re-send).
    pub duplicate: bool,
}

/// Payload of [`ServerMessage::Error`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorNotice {
    /// Machine-readable code, one of [`error_code`].
    pub code: String,
    /// Human-readable explanation naming the offending field.
    pub message: String,
    /// The operation the refused message named, when the refusal is about that operation
    /// (always set with [`error_code::UNKNOWN_OPERATION`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// The `unique_code` of the refused result, when the refusal is about that one result
    /// (always set with [`error_code::OVER_QUOTA`] and [`error_code::OUTSIDE_WINDOW`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_code: Option<String>,
}

/// Codes carried by [`ErrorNotice::code`].
pub mod error_code {
    /// The coordinator could not store a result right now (e.g. database outage); it was not
    /// acknowledged: keep it and re-send later.
    pub const STORE_UNAVAILABLE: &str = "store_unavailable";
    /// A field of the message has a value the coordinator refuses (named in the message).
    pub const INVALID_FIELD: &str = "invalid_field";
    /// The operation named in [`ErrorNotice::operation_id`](super::ErrorNotice) does not exist
    /// on the coordinator (any more: it was deleted). Nothing can store its results: the probe
    /// should stop running it and drop what it still holds for it. The link stays open.
    pub const UNKNOWN_OPERATION: &str = "unknown_operation";
    /// The probe already delivered as many results for the operation in
    /// [`ErrorNotice::operation_id`](super::ErrorNotice) as its schedule can produce
    /// ([`Params::max_results`](crate::params::Params::max_results)). The result named by
    /// [`ErrorNotice::unique_code`](super::ErrorNotice) is not stored and not rewarded, and never
    /// will be: drop it. The link stays open. A re-sent result that was stored is still
    /// acknowledged as a duplicate.
    pub const OVER_QUOTA: &str = "over_quota";
    /// The result named by [`ErrorNotice::unique_code`](super::ErrorNotice) was measured
    /// (`measured_at`) outside its operation's
    /// [`ResultWindow`](crate::params::ResultWindow): it is not stored, not rewarded, and never
    /// will be: drop it. The link stays open.
    pub const OUTSIDE_WINDOW: &str = "outside_window";
}

/// Why a text frame could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("invalid protocol message: {0}")]
pub struct DecodeError(#[from] serde_json::Error);

impl ProbeMessage {
    /// Decodes one text frame sent by a probe.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Encodes the message as the text of one frame.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("protocol messages always serialise")
    }
}

impl ServerMessage {
    /// Decodes one text frame sent by the coordinator.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Encodes the message as the text of one frame.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("protocol messages always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hello_round_trips_with_its_type_tag() {
        let text =
            r#"{"type":"hello","protocol":1,"agent":"t/1","total_credits":100,"in_use_credits":0}"#;
        let msg = ProbeMessage::decode(text).unwrap();
        assert!(
            matches!(&msg, ProbeMessage::Hello(h) if h.total_credits == 100 && h.clock_offset_ms.is_none())
        );
        assert_eq!(ProbeMessage::decode(&msg.encode()).unwrap(), msg);
    }

    #[test]
    fn result_carries_any_json_content() {
        let msg = ProbeMessage::Result(ResultReport {
            operation_id: "op".into(),
            unique_code: "u1".into(),
            format: ContentFormat::Json,
            content: json!([{"type": "trace", "hops": [1, 2]}]).into(),
            measured_at: Utc::now(),
            error: None,
        });
        assert_eq!(ProbeMessage::decode(&msg.encode()).unwrap(), msg);
    }

    #[test]
    fn unknown_type_missing_field_and_extra_field_are_errors() {
        for text in [
            r#"{"type":"launch_missiles"}"#,
            r#"{"type":"accepted"}"#,
            r#"{"type":"finished","operation_id":"x","extra":1}"#,
            r#"[1,2]"#,
            "not json",
        ] {
            assert!(ProbeMessage::decode(text).is_err(), "{text} decoded");
        }
    }

    #[test]
    fn a_welcome_without_a_window_gets_the_default_and_unknown_fields_are_ignored() {
        let old = r#"{"type":"welcome","probe_id":"p","server_time":"2024-01-01T00:00:00Z","heartbeat_s":20}"#;
        let newer = r#"{"type":"welcome","probe_id":"p","server_time":"2024-01-01T00:00:00Z","heartbeat_s":20,"window":64,"later":true}"#;
        let window = |text| match ServerMessage::decode(text).unwrap() {
            ServerMessage::Welcome(welcome) => welcome.window,
            other => panic!("{other:?}"),
        };
        assert_eq!((window(old), window(newer)), (DEFAULT_WINDOW, 64));
    }

    #[test]
    fn server_messages_round_trip() {
        let msg = ServerMessage::ResultAck(ResultAck {
            operation_id: "op".into(),
            unique_code: "u".into(),
            duplicate: true,
        });
        let text = msg.encode();
        assert!(text.contains(r#""type":"result_ack""#));
        assert_eq!(ServerMessage::decode(&text).unwrap(), msg);
    }
}
