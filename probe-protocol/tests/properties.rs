//! Property tests: every decoder and validator of the protocol answers arbitrary input with a
//! value or a typed error, never a panic, and what it accepts is consistent.

use chrono::{DateTime, Duration, TimeZone, Utc};
use probe_protocol::params::{
    self, credits_per_execution, format_stop_time, Cron, StopTime, MAX_OPERATION_DAYS,
};
use probe_protocol::{OperationKind, ProbeMessage, ServerMessage};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Any JSON value, nested a few levels.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// serde's derived decoder for the probe's messages, with a result's content built as a tree:
/// the reference the one-pass decoder (which keeps content as text) must agree with.
#[derive(Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Derived {
    Hello(probe_protocol::Hello),
    Accepted(probe_protocol::Accepted),
    Result(TreeResult),
    Finished(probe_protocol::Finished),
}

/// [`probe_protocol::ResultReport`] with its content as a tree.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TreeResult {
    operation_id: String,
    unique_code: String,
    format: probe_protocol::ContentFormat,
    content: Value,
    measured_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

const MESSAGE_TYPES: &[&str] = &[
    "hello",
    "accepted",
    "finished",
    "result",
    "welcome",
    "operation",
    "result_ack",
    "error",
    "",
];

const FRAME_FIELDS: &[&str] = &[
    "type",
    "protocol",
    "agent",
    "total_credits",
    "in_use_credits",
    "clock_offset_ms",
    "operation_id",
    "unique_code",
    "format",
    "content",
    "measured_at",
    "error",
];

/// A JSON object shaped like a frame: a known `type` and known field names with any values.
fn frame_like() -> impl Strategy<Value = String> {
    (
        prop::sample::select(MESSAGE_TYPES),
        prop::collection::vec((prop::sample::select(FRAME_FIELDS), json()), 0..10),
    )
        .prop_map(|(kind, fields)| {
            let mut object: Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            object.insert("type".into(), Value::String(kind.into()));
            Value::Object(object).to_string()
        })
}

/// A frame's `type` and other fields, with values that are often well-formed.
fn frame_parts() -> impl Strategy<Value = (&'static str, Map<String, Value>)> {
    let value = prop_oneof![
        json(),
        Just(Value::from("65f0c0ffee0000000000abcd")),
        Just(Value::from("json")),
        Just(Value::from("2026-11-30T12:00:00Z")),
        (0u64..100).prop_map(Value::from),
    ];
    let fields = prop::collection::vec((prop::sample::select(&FRAME_FIELDS[1..]), value), 0..8);
    (prop::sample::select(MESSAGE_TYPES), fields).prop_map(|(kind, fields)| {
        let fields = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        (kind, fields)
    })
}

const PARAM_FIELDS: &[&str] = &[
    "cron",
    "stop_time",
    "times_per_minute",
    "ips",
    "fqdns",
    "address",
    "attempts",
    "confidence",
    "dport",
    "sport",
    "firsthop",
    "maxttl",
    "method",
    "probecount",
    "size",
    "timeout",
    "wait",
    "name",
    "type",
    "result_format",
];

/// A params object with known names and any values, plus some well-formed ones.
fn params_like() -> impl Strategy<Value = Map<String, Value>> {
    let value = prop_oneof![
        json(),
        Just(Value::from("* * * * *")),
        Just(Value::from("01/01/2031 10:00")),
        Just(Value::from(vec!["127.0.0.1", "::1"])),
        Just(Value::from(vec!["example.org"])),
        (0u64..100).prop_map(Value::from),
    ];
    prop::collection::vec((prop::sample::select(PARAM_FIELDS), value), 0..12).prop_map(|fields| {
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    })
}

fn kind() -> impl Strategy<Value = OperationKind> {
    prop_oneof![
        Just(OperationKind::Traceroute),
        Just(OperationKind::Ping),
        Just(OperationKind::Dns),
    ]
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 6, 15, 12, 0, 0).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics_the_frame_decoders(text in ".{0,200}") {
        let _ = ProbeMessage::decode(&text);
        let _ = ServerMessage::decode(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_frame_decoders(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = ProbeMessage::decode(&text);
        let _ = ServerMessage::decode(&text);
    }

    #[test]
    fn arbitrary_json_never_panics_and_accepted_frames_round_trip(value in json(), frame in frame_like()) {
        for text in [value.to_string(), frame] {
            if let Ok(message) = ProbeMessage::decode(&text) {
                let again = ProbeMessage::decode(&message.encode()).expect("an encoded message decodes");
                prop_assert_eq!(again, message);
            }
            if let Ok(message) = ServerMessage::decode(&text) {
                let again = ServerMessage::decode(&message.encode()).expect("an encoded message decodes");
                prop_assert_eq!(again, message);
            }
        }
    }

    /// The one-pass decoder (tag first) accepts and refuses exactly what serde's derived decoder
    /// does, wherever the tag is.
    #[test]
    fn the_frame_decoder_agrees_with_the_derived_one((kind, fields) in frame_parts()) {
        let rest = Value::Object(fields.clone()).to_string();
        let tag_first = match rest.as_str() {
            "{}" => format!(r#"{{"type":"{kind}"}}"#),
            _ => format!(r#"{{"type":"{kind}",{}"#, &rest[1..]),
        };
        let mut tag_last = rest.trim_end_matches('}').to_string();
        tag_last.push_str(if fields.is_empty() { "" } else { "," });
        tag_last.push_str(&format!(r#""type":"{kind}"}}"#));
        for text in [tag_first, tag_last] {
            let derived = serde_json::from_str::<Derived>(&text).ok().map(|m| serde_json::to_value(m).unwrap());
            let decoded = ProbeMessage::decode(&text).ok().map(|m| serde_json::to_value(m).unwrap());
            prop_assert_eq!(decoded, derived, "{}", text);
        }
    }

    #[test]
    fn params_never_panic_and_accepted_params_are_priced_sanely(kind in kind(), object in params_like()) {
        if let Ok(parsed) = params::parse(kind, &object, now()) {
            prop_assert_eq!(parsed.kind(), kind);
            prop_assert!(parsed.destination_count() >= 1);
            prop_assert!(parsed.credits_per_execution() >= 1);
            let runs = parsed.schedule().estimated_runs(now());
            prop_assert!(runs.is_finite() && runs >= 0.0, "runs {}", runs);
            prop_assert!(parsed.schedule().stop_time() > now());
        }
    }

    #[test]
    fn any_cron_text_parses_or_is_refused_and_fires_strictly_later(text in "[0-9*/,\\- a-zA-Z]{0,40}", after_min in 0i64..600_000) {
        let _ = Cron::parse(&text);
        if let Ok(cron) = Cron::parse(&text) {
            let after = now() + Duration::minutes(after_min) + Duration::seconds(17);
            let until = after + Duration::days(400);
            if let Some(fire) = cron.next_after(after, until) {
                prop_assert!(fire > after && fire <= until);
                prop_assert_eq!(fire.timestamp() % 60, 0);
            }
        }
    }

    #[test]
    fn arbitrary_cron_text_never_panics(text in ".{0,300}") {
        let _ = Cron::parse(&text);
    }

    #[test]
    fn stop_time_accepts_exactly_the_current_minute_to_a_year_ahead(text in ".{0,40}", offset_min in -10_000i64..(MAX_OPERATION_DAYS + 5) * 1440) {
        let _ = StopTime::parse(&text, now());
        let instant = now() + Duration::minutes(offset_min);
        let formatted = format_stop_time(instant);
        let parsed = StopTime::parse(&formatted, now());
        // The current minute (offset 0) runs to its end, as in the original.
        let allowed = (0..=MAX_OPERATION_DAYS * 1440).contains(&offset_min);
        prop_assert_eq!(parsed.is_ok(), allowed, "{} -> {:?}", formatted, parsed);
        if let Ok(stop) = parsed {
            prop_assert_eq!(stop.get(), instant);
        }
    }

    #[test]
    fn the_price_of_an_execution_never_overflows_and_grows_with_destinations(kind in kind(), count in any::<usize>()) {
        let price = credits_per_execution(kind, count);
        prop_assert!(price >= credits_per_execution(kind, count / 2));
        prop_assert!(price >= count as u64 || price == u64::MAX);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Well-formed ping params are accepted whatever their values, so the properties above are
    /// not vacuous.
    #[test]
    fn well_formed_ping_params_are_accepted(
        cron in prop::sample::select(&["* * * * *", "*/5 * * * *", "0 12 * * 1-5", "30 2 1 * *"][..]),
        offset_min in 2i64..(MAX_OPERATION_DAYS - 1) * 1440,
        times in 1u64..=3,
        ips in prop::collection::vec(any::<[u8; 4]>(), 1..5),
    ) {
        let stop = format_stop_time(now() + Duration::minutes(offset_min));
        let ips: Vec<String> = ips.iter().map(|o| std::net::Ipv4Addr::from(*o).to_string()).collect();
        let object = serde_json::json!({"cron": cron, "stop_time": stop, "times_per_minute": times, "ips": ips});
        let parsed = params::parse(OperationKind::Ping, object.as_object().unwrap(), now());
        prop_assert!(parsed.is_ok(), "{:?}", parsed);
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.credits_per_execution(), ips.len() as u64);
    }
}
