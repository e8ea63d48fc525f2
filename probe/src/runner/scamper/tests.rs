use super::*;
use probe_protocol::params::{self, Params};
use probe_protocol::OperationKind;
use serde_json::{json, Map};

fn with_schedule(extra: Value) -> Map<String, Value> {
    let mut params = json!({
        "cron": "* * * * *", "stop_time": "01/01/2030 12:00", "times_per_minute": 1,
        "ips": ["192.0.2.1"]
    });
    let object = params.as_object_mut().unwrap();
    object.extend(extra.as_object().unwrap().clone());
    object.clone()
}

fn parse(kind: OperationKind, extra: Value) -> Params {
    let now = "2029-12-31T12:00:00Z".parse().unwrap();
    params::parse(kind, &with_schedule(extra), now).unwrap()
}

fn trace(extra: Value, target: &str) -> String {
    match parse(OperationKind::Traceroute, extra) {
        Params::Traceroute(p) => trace_command(&p, target.parse().unwrap()),
        other => panic!("{other:?}"),
    }
}

fn ping(extra: Value, target: &str) -> String {
    match parse(OperationKind::Ping, extra) {
        Params::Ping(p) => ping_command(&p, target.parse().unwrap()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn defaults_are_left_to_scamper() {
    assert_eq!(trace(json!({}), "192.0.2.1"), "trace 192.0.2.1");
    assert_eq!(ping(json!({}), "2001:db8::1"), "ping 2001:db8::1");
}

#[test]
fn every_traceroute_parameter_maps_to_its_option() {
    let all = json!({
        "method": "icmp-paris", "attempts": 3, "confidence": 0.95, "dport": 33435,
        "firsthop": 2, "maxttl": 30, "sport": 4000, "wait": 4, "wait-probe": 25
    });
    assert_eq!(
        trace(all, "192.0.2.1"),
        "trace -P icmp-paris -q 3 -c 95 -d 33435 -f 2 -m 30 -s 4000 -w 4 -W 25 192.0.2.1"
    );
    assert_eq!(
        trace(json!({"method": "udp-paris"}), "::1"),
        "trace -P udp-paris ::1"
    );
}

#[test]
fn traceroute_values_scamper_refuses_are_brought_into_its_range() {
    assert_eq!(trace(json!({"method": "icp"}), "::1"), "trace -P icmp ::1");
    assert_eq!(trace(json!({"confidence": 0}), "::1"), "trace ::1");
    assert_eq!(trace(json!({"confidence": 0.01}), "::1"), "trace -c 95 ::1");
    assert_eq!(trace(json!({"confidence": 0.96}), "::1"), "trace -c 99 ::1");
    assert_eq!(trace(json!({"confidence": 0.99}), "::1"), "trace -c 99 ::1");
    assert_eq!(trace(json!({"wait": 10}), "::1"), "trace -w 10 ::1");
    assert_eq!(trace(json!({"wait": 20}), "::1"), "trace -w 10 ::1");
    assert_eq!(trace(json!({"wait-probe": 0}), "::1"), "trace -W 0 ::1");
}

#[test]
fn every_ping_parameter_maps_to_its_option() {
    let all = json!({
        "method": "icmp-echo", "probecount": 5, "icmp-sum": 1234, "dport": 7, "sport": 8,
        "wait": 2, "size": 100, "timeout": 3
    });
    assert_eq!(
        ping(all, "192.0.2.1"),
        "ping -P icmp-echo -c 5 -C 1234 -d 7 -F 8 -i 2 -s 100 -W 3 192.0.2.1"
    );
    for method in [
        "icmp-time",
        "tcp-ack",
        "tcp-ack-sport",
        "tcp-syn",
        "udp",
        "udp-dport",
    ] {
        assert_eq!(
            ping(json!({ "method": method }), "192.0.2.1"),
            format!("ping -P {method} 192.0.2.1")
        );
    }
}

#[test]
fn ping_values_scamper_refuses_are_brought_into_its_range() {
    assert_eq!(ping(json!({"timeout": 0}), "::1"), "ping -W 1 ::1");
    assert_eq!(ping(json!({"timeout": 100}), "::1"), "ping -W 100 ::1");
    assert_eq!(
        ping(json!({"method": "udp", "icmp-sum": 5}), "::1"),
        "ping -P udp ::1"
    );
    let sizes = [
        (json!({"size": 1}), "192.0.2.1", 28),
        (json!({"size": 1}), "::1", 48),
        (json!({"size": 1, "icmp-sum": 5}), "192.0.2.1", 30),
        (json!({"size": 1, "method": "icmp-time"}), "192.0.2.1", 41),
        (
            json!({"size": 1, "method": "icmp-time", "icmp-sum": 5}),
            "192.0.2.1",
            42,
        ),
        (json!({"size": 1, "method": "icmp-time"}), "::1", 61),
        (json!({"size": 1, "method": "tcp-syn"}), "192.0.2.1", 40),
        (json!({"size": 1, "method": "tcp-ack"}), "::1", 60),
        (json!({"size": 1, "method": "udp-dport"}), "192.0.2.1", 28),
        (json!({"size": 1, "method": "udp"}), "::1", 48),
        (json!({"size": 255, "method": "udp"}), "::1", 255),
    ];
    for (params, target, size) in sizes {
        let command = ping(params.clone(), target);
        assert!(
            command.contains(&format!("-s {size} ")),
            "{params} → {command}"
        );
    }
}

#[test]
fn arguments_put_every_command_after_one_dash_i() {
    let args = arguments(
        Output::Warts,
        vec!["trace 1.2.3.4".into(), "trace ::1".into()],
    );
    assert_eq!(args, ["-O", "warts", "-I", "trace 1.2.3.4", "trace ::1"]);
    assert_eq!(arguments(Output::Json, vec![])[1], "json");
}

#[test]
fn json_lines_become_an_array_and_junk_is_reported() {
    let stdout = b"{\"type\":\"cycle-start\"}\n{\"type\":\"ping\",\"dst\":\"::1\"}\n\n";
    let (content, error) = parse_json_lines(stdout);
    assert_eq!(
        content,
        json!([{"type": "cycle-start"}, {"type": "ping", "dst": "::1"}])
    );
    assert_eq!(error, None);
    let (content, error) = parse_json_lines(b"{\"a\":1}\nbroken {\n");
    assert_eq!(content, json!([{"a": 1}]));
    assert_eq!(error.unwrap(), "1 line(s) of scamper output are not JSON");
}
