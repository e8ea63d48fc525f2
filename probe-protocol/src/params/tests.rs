//! Whole-object tests of [`parse`]: the reference's examples, every rule at its edges, and
//! hostile input.

use super::*;
use chrono::TimeZone;
use serde_json::json;
use std::net::IpAddr;

/// 2025-03-10 12:00:30 UTC.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 10, 12, 0, 30).unwrap()
}

/// A valid object for `kind` with `extra` merged in (a `null` in `extra` removes the key).
fn params(kind: OperationKind, extra: Value) -> Map<String, Value> {
    let mut base =
        json!({"cron": "* * * * *", "stop_time": "10/03/2025 13:00", "times_per_minute": 1});
    let destination = match kind {
        OperationKind::Dns => json!({"fqdns": ["example.com"]}),
        _ => json!({"ips": ["8.8.8.8"]}),
    };
    let map = base.as_object_mut().unwrap();
    for (key, value) in destination
        .as_object()
        .unwrap()
        .iter()
        .chain(extra.as_object().unwrap())
    {
        match value {
            Value::Null => map.remove(key),
            _ => map.insert(key.clone(), value.clone()),
        };
    }
    map.clone()
}

fn ok(kind: OperationKind, extra: Value) -> Params {
    parse(kind, &params(kind, extra.clone()), now())
        .unwrap_or_else(|e| panic!("{kind:?} {extra} refused: {e}"))
}

fn err(kind: OperationKind, extra: Value) -> ParamError {
    match parse(kind, &params(kind, extra.clone()), now()) {
        Ok(_) => panic!("{kind:?} {extra} accepted"),
        Err(error) => error,
    }
}

const TRACEROUTE: OperationKind = OperationKind::Traceroute;
const PING: OperationKind = OperationKind::Ping;
const DNS: OperationKind = OperationKind::Dns;

#[test]
fn swagger_traceroute_example() {
    let body = json!({
        "cron": "* * * * *", "times_per_minute": 1, "stop_time": "07/03/2026 05:56",
        "firsthop": 5, "ips": ["179.60.195.36"], "fqdns": ["ar.yahoo.com"]
    });
    let parsed = parse(TRACEROUTE, body.as_object().unwrap(), now()).unwrap();
    let Params::Traceroute(trace) = &parsed else {
        panic!("not a traceroute: {parsed:?}")
    };
    assert_eq!(trace.firsthop.map(Ranged::get), Some(5));
    assert_eq!(
        trace.destinations.ips(),
        ["179.60.195.36".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(trace.destinations.fqdns()[0].as_str(), "ar.yahoo.com");
    assert_eq!(parsed.destination_count(), 2);
    assert_eq!(parsed.credits_per_execution(), 30);
    assert_eq!(parsed.kind(), TRACEROUTE);
    assert_eq!(parsed.schedule().cron().as_str(), "* * * * *");
}

#[test]
fn swagger_ping_example_with_result_format_inside_params() {
    let body = json!({
        "cron": "* * * * *", "times_per_minute": 1, "stop_time": "11/03/2026 00:00",
        "fqdns": ["www.google.com", "ar.yahoo.com"], "ips": ["104.21.234.2"], "result_format": "json"
    });
    let parsed = parse(PING, body.as_object().unwrap(), now()).unwrap();
    assert!(matches!(parsed, Params::Ping(_)));
    assert_eq!(parsed.destination_count(), 3);
    assert_eq!(parsed.credits_per_execution(), 3);
}

#[test]
fn swagger_dns_example_with_its_fqns_typo_is_refused_by_name() {
    let body = json!({
        "cron": "* * * * *", "times_per_minute": 1, "stop_time": "09/03/2026 23:59",
        "fqns": ["www.google.com", "ar.yahoo.com"]
    });
    let error = parse(DNS, body.as_object().unwrap(), now()).unwrap_err();
    assert_eq!(error.to_string(), "params.fqns: unknown parameter for dns");

    let fixed = json!({
        "cron": "* * * * *", "times_per_minute": 1, "stop_time": "09/03/2026 23:59",
        "fqdns": ["www.google.com", "ar.yahoo.com"]
    });
    let parsed = parse(DNS, fixed.as_object().unwrap(), now()).unwrap();
    assert_eq!(parsed.destination_count(), 2);
}

#[test]
fn frontend_style_objects_with_strings_everywhere() {
    let parsed = ok(
        TRACEROUTE,
        json!({"ips": "8.8.8.8, 1.1.1.1", "fqdns": "example.com", "times_per_minute": "2",
               "maxttl": "30", "method": "icmp-paris", "confidence": "0.95", "wait-probe": 0}),
    );
    assert_eq!(parsed.destination_count(), 3);
    assert_eq!(parsed.schedule().times_per_minute(), 2);
    let Params::Traceroute(trace) = parsed else {
        unreachable!()
    };
    assert_eq!(trace.method.map(TraceMethod::as_str), Some("icmp-paris"));
    assert_eq!(trace.confidence.map(Confidence::get), Some(0.95));
    assert_eq!(trace.wait_probe.map(Ranged::get), Some(0));
}

/// Each integer parameter of `kind`, with its inclusive range.
fn integer_rules(kind: OperationKind) -> Vec<(&'static str, i64, i64)> {
    match kind {
        OperationKind::Traceroute => vec![
            ("attempts", 1, 10),
            ("dport", 1, 65535),
            ("firsthop", 1, 255),
            ("maxttl", 1, 255),
            ("sport", 1, 65535),
            ("wait", 1, 20),
            ("wait-probe", 0, 100),
            ("times_per_minute", 1, 60),
        ],
        OperationKind::Ping => vec![
            ("dport", 1, 65535),
            ("icmp-sum", 1, 65535),
            ("probecount", 1, 100),
            ("size", 1, 255),
            ("sport", 1, 65535),
            ("timeout", 0, 100),
            ("wait", 1, 20),
            ("times_per_minute", 1, 60),
        ],
        OperationKind::Dns => vec![("times_per_minute", 1, 60)],
    }
}

#[test]
fn every_integer_is_accepted_at_its_edges_and_refused_past_them() {
    for kind in [TRACEROUTE, PING, DNS] {
        for (field, min, max) in integer_rules(kind) {
            let rule = format!("must be an integer between {min} and {max}");
            for edge in [min, max] {
                ok(kind, json!({ field: edge }));
                ok(kind, json!({ field: edge.to_string() }));
            }
            for past in [
                json!(min - 1),
                json!(max + 1),
                json!(min as f64 + 0.5),
                json!(true),
            ] {
                let error = err(kind, json!({ field: past }));
                assert_eq!((error.field(), error.message()), (field, rule.as_str()));
            }
        }
    }
}

#[test]
fn confidence_edges() {
    ok(TRACEROUTE, json!({"confidence": 0}));
    ok(TRACEROUTE, json!({"confidence": 0.99}));
    for past in [json!(-0.001), json!(0.991), json!("1")] {
        assert_eq!(
            err(TRACEROUTE, json!({"confidence": past})).field(),
            "confidence"
        );
    }
}

#[test]
fn methods_and_types_are_fixed_words() {
    for method in TraceMethod::ALL {
        ok(TRACEROUTE, json!({"method": method.as_str()}));
    }
    for method in PingMethod::ALL {
        ok(PING, json!({"method": method.as_str()}));
    }
    for qtype in DnsType::ALL {
        ok(DNS, json!({"type": qtype.as_str()}));
    }
    assert_eq!(
        err(TRACEROUTE, json!({"method": "icmp-echo"})).to_string(),
        "params.method: must be one of \"icmp-paris\", \"icp\", \"udp-paris\""
    );
    assert_eq!(err(PING, json!({"method": "UDP"})).field(), "method");
    assert_eq!(err(DNS, json!({"type": "aaaa"})).field(), "type");
    assert_eq!(err(DNS, json!({"type": 1})).field(), "type");
}

#[test]
fn traceroute_and_ping_need_a_destination() {
    for kind in [TRACEROUTE, PING] {
        for empty in [
            json!({"ips": null}),
            json!({"ips": []}),
            json!({"ips": "", "fqdns": []}),
        ] {
            assert_eq!(
                err(kind, empty).to_string(),
                "params.ips: at least one destination is required in ips or fqdns"
            );
        }
        assert_eq!(
            ok(kind, json!({"ips": null, "fqdns": "a.com,b.com"})).destination_count(),
            2
        );
        assert_eq!(err(kind, json!({"ips": ["8.8.8.8", "x"]})).field(), "ips");
        assert_eq!(err(kind, json!({"fqdns": ["bad name"]})).field(), "fqdns");
        assert_eq!(err(kind, json!({"name": ["a.com"]})).field(), "name");
    }
}

#[test]
fn dns_queries_fqdns_names_and_reverse_lookups() {
    let parsed = ok(DNS, json!({"name": ["a.com", "b.com"], "x": "8.8.4.4"}));
    assert_eq!(parsed.destination_count(), 4);
    let Params::Dns(dns) = parsed else {
        unreachable!()
    };
    assert_eq!(dns.queries.names().len(), 2);
    assert_eq!(dns.queries.reverse(), Some("8.8.4.4".parse().unwrap()));

    assert_eq!(
        ok(DNS, json!({"fqdns": null, "x": "::1"})).destination_count(),
        1
    );
    assert_eq!(
        ok(DNS, json!({"fqdns": null, "name": "a.com"})).destination_count(),
        1
    );
    assert_eq!(
        err(DNS, json!({"fqdns": []})).to_string(),
        "params.fqdns: at least one of fqdns, name or x is required"
    );
    assert_eq!(err(DNS, json!({"x": "example.com"})).field(), "x");
    assert_eq!(err(DNS, json!({"address": "1.2.3.4.5"})).field(), "address");
    assert!(ok(DNS, json!({"address": "192.0.2.1"})) != ok(DNS, json!({})));
}

#[test]
fn dns_refuses_ips_unless_empty() {
    for empty in [json!([]), json!(""), json!(null)] {
        ok(DNS, json!({ "ips": empty }));
    }
    assert_eq!(
        err(DNS, json!({"ips": ["8.8.8.8"]})).to_string(),
        "params.ips: must be empty for dns; use x for a reverse lookup"
    );
    assert_eq!(err(DNS, json!({"ips": "8.8.8.8"})).field(), "ips");
}

#[test]
fn dns_switches() {
    let family = |extra| match ok(DNS, extra) {
        Params::Dns(dns) => dns.ip_family,
        _ => unreachable!(),
    };
    assert_eq!(family(json!({})), None);
    assert_eq!(family(json!({"ipv4": ""})), Some(IpFamily::V4));
    // `null` in these helpers removes the key, so build this one by hand.
    let mut with_null = params(DNS, json!({}));
    with_null.insert("ipv6".into(), Value::Null);
    assert!(matches!(
        parse(DNS, &with_null, now()),
        Ok(Params::Dns(DnsParams {
            ip_family: Some(IpFamily::V6),
            ..
        }))
    ));
    let error = err(DNS, json!({"ipv4": true}));
    assert_eq!(error.field(), "ipv4");
    assert!(error
        .message()
        .starts_with("is a switch and takes no value"));
    assert_eq!(err(DNS, json!({"ipv4": "", "ipv6": ""})).field(), "ipv6");
}

#[test]
fn unknown_names_are_refused_for_each_kind() {
    assert_eq!(
        err(TRACEROUTE, json!({"foo": 1})).to_string(),
        "params.foo: unknown parameter for traceroute"
    );
    assert_eq!(err(TRACEROUTE, json!({"size": 10})).field(), "size");
    assert_eq!(err(PING, json!({"maxttl": 10})).field(), "maxttl");
    assert_eq!(err(DNS, json!({"dport": 53})).field(), "dport");
    assert!(err(TRACEROUTE, json!({"wait_probe": 1}))
        .message()
        .contains("\"wait-probe\""));
    for kind in [TRACEROUTE, PING, DNS] {
        ok(kind, json!({"result_format": "json"}));
    }
}

#[test]
fn mandatory_parameters_are_named() {
    for kind in [TRACEROUTE, PING, DNS] {
        for key in ["cron", "stop_time", "times_per_minute"] {
            let error = err(kind, json!({ key: null }));
            assert_eq!(error.to_string(), format!("params.{key}: is required"));
        }
    }
}

#[test]
fn hostile_input_is_an_error_never_a_panic() {
    let mut nested = json!("deep");
    for _ in 0..1_000 {
        nested = json!([nested]);
    }
    let huge = "9".repeat(100_000);
    let junk = [
        nested,
        json!(huge),
        json!(format!("{huge}.5")),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(f64::MAX),
        json!(-0.0),
        json!("NaN"),
        json!("-inf"),
        json!("🦀"),
        json!("\u{0}"),
        json!("1,2,3"),
        json!({"a": {"b": [1, 2]}}),
        json!(["8.8.8.8", ["8.8.4.4"]]),
        json!("* * * * * * * * * *".repeat(1000)),
        json!("٣ * * * *"),
        json!("31/12/9999 23:59"),
        json!("00/00/0000 00:00"),
    ];
    let keys = [
        "cron",
        "stop_time",
        "times_per_minute",
        "ips",
        "fqdns",
        "name",
        "x",
        "address",
        "ipv4",
        "type",
        "method",
        "confidence",
        "maxttl",
        "dport",
        "🦀",
    ];
    for kind in [TRACEROUTE, PING, DNS] {
        for key in keys {
            for value in &junk {
                let mut object = params(kind, json!({}));
                object.insert(key.to_string(), value.clone());
                let _ = parse(kind, &object, now());
            }
        }
        let _ = parse(kind, &Map::new(), now());
        let _ = parse(kind, &params(kind, json!({})), DateTime::<Utc>::MIN_UTC);
        let _ = parse(kind, &params(kind, json!({})), DateTime::<Utc>::MAX_UTC);
    }
    let long_key = "k".repeat(10_000);
    let error = err(PING, json!({ long_key: 1 }));
    assert_eq!(error.field().chars().count(), MAX_ECHOED_CHARS + 1);
}
