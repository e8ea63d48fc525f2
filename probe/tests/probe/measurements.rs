//! Real measurements reach the coordinator, each as the owner asked for it.

use crate::dns::DnsResponder;
use crate::helpers::{deploy, require_dig, scamper_can_measure, Deployment};
use crate::probe_process::ProbeProcess;
use serde_json::{json, Value};
use testkit::params::every_second;
use testkit::TestApp;

/// The scamper object of type `kind` in a JSON result that reports no error.
fn measurement<'a>(result: &'a Value, kind: &str) -> &'a Value {
    assert_eq!(result["format"], "json", "{result}");
    assert_eq!(result["error"], Value::Null, "{result}");
    let objects = result["results"]
        .as_array()
        .expect("json content is an array");
    objects
        .iter()
        .find(|o| o["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} object in {result}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_traceroute_and_dns_results_arrive_as_asked() {
    require_dig();
    let dir = tempfile::tempdir().unwrap();
    let resolver = DnsResponder::start().await;
    let Deployment {
        coordinator,
        owner,
        probe_id,
        mut probe,
        ..
    } = deploy(dir.path(), &resolver.port_args()).await;

    let reverse = every_second(json!({"x": "127.0.0.1", "address": "127.0.0.1"}));
    let dns = coordinator
        .create_on(&owner, "dns", &probe_id, reverse, "text")
        .await;
    let lookup = coordinator.first_result(&dns).await;
    assert_eq!(
        (&lookup["format"], &lookup["error"]),
        (&json!("text"), &Value::Null),
        "{lookup}"
    );
    let text = lookup["results"].as_str().unwrap();
    assert!(text.contains("status: NOERROR"), "{text}");
    let asked = format!("SERVER: 127.0.0.1#{}", resolver.addr.port());
    assert!(
        text.contains(&asked),
        "dig must ask the operation's address: {text}"
    );
    assert!(
        text.contains("1.0.0.127.in-addr.arpa.") && text.contains("PTR\tlocalhost."),
        "{text}"
    );

    // Checked after the lookup, so that the lookup is tested even without raw sockets.
    if scamper_can_measure() {
        let ping_params = every_second(json!({"ips": ["127.0.0.1"], "probecount": 1}));
        let ping = coordinator
            .create_on(&owner, "ping", &probe_id, ping_params, "json")
            .await;
        let trace_params =
            every_second(json!({"ips": "127.0.0.1", "method": "icmp-paris", "maxttl": 5}));
        let trace = coordinator
            .create_on(
                &owner,
                "traceroute",
                &probe_id,
                trace_params.clone(),
                "json",
            )
            .await;
        let dump = coordinator
            .create_on(&owner, "traceroute", &probe_id, trace_params, "dump")
            .await;

        let ping = coordinator.first_result(&ping).await;
        let measured = measurement(&ping, "ping");
        assert_eq!(
            (&measured["dst"], &measured["ping_sent"]),
            (&json!("127.0.0.1"), &json!(1))
        );
        assert_eq!(measured["statistics"]["replies"], 1, "{measured}");

        let trace = coordinator.first_result(&trace).await;
        let measured = measurement(&trace, "trace");
        assert_eq!(
            (&measured["method"], &measured["hoplimit"]),
            (&json!("icmp-echo-paris"), &json!(5))
        );
        assert_eq!(measured["stop_reason"], "COMPLETED");
        assert_eq!(measured["hops"][0]["addr"], "127.0.0.1");

        let dump = coordinator.first_result(&dump).await;
        assert_eq!(
            (&dump["format"], &dump["error"]),
            (&json!("dump"), &Value::Null),
            "{dump}"
        );
        let text = dump["results"].as_str().unwrap();
        assert!(text.contains("\nT\t127.0.0.1\t127.0.0.1\t"), "{text}");
    }
    probe.kill().await;
    coordinator.stop().await;
}

/// Values the reference allows but scamper 20211212 refuses as such are brought into its
/// range: scamper measures instead of exiting with nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_at_the_edges_of_the_reference_ranges_still_measure() {
    if !scamper_can_measure() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Deployment {
        coordinator,
        owner,
        probe_id,
        mut probe,
        ..
    } = deploy(dir.path(), &[]).await;
    let cases = [
        (
            "ping",
            json!({"method": "icmp-time", "size": 1, "icmp-sum": 5, "timeout": 0}),
            "ping",
        ),
        (
            "ping",
            json!({"method": "udp", "size": 1, "icmp-sum": 5}),
            "ping",
        ),
        ("ping", json!({"method": "tcp-syn", "size": 1}), "ping"),
        (
            "traceroute",
            json!({"method": "icp", "confidence": 0.5, "wait": 20, "wait-probe": 0, "attempts": 1}),
            "trace",
        ),
    ];
    let mut operations = Vec::new();
    for (kind, extra, object) in cases {
        let mut params = every_second(json!({"ips": ["127.0.0.1"], "probecount": 1, "maxttl": 3}));
        let params_object = params.as_object_mut().unwrap();
        params_object.extend(extra.as_object().unwrap().clone());
        params_object.remove(if kind == "ping" {
            "maxttl"
        } else {
            "probecount"
        });
        let id = coordinator
            .create_on(&owner, kind, &probe_id, params, "json")
            .await;
        operations.push((id, object));
    }
    let mut measured = Vec::new();
    for (id, object) in &operations {
        let result = coordinator.first_result(id).await;
        measured.push(measurement(&result, object).clone());
    }
    assert_eq!(
        (&measured[0]["method"], &measured[0]["probe_size"]),
        (&json!("icmp-time"), &json!(42))
    );
    assert_eq!(measured[0]["timeout"], 1);
    assert_eq!(
        (&measured[1]["method"], &measured[1]["probe_size"]),
        (&json!("udp"), &json!(28))
    );
    assert_eq!(
        (&measured[2]["method"], &measured[2]["probe_size"]),
        (&json!("tcp-syn"), &json!(40))
    );
    assert_eq!(
        (&measured[3]["method"], &measured[3]["wait"]),
        (&json!("icmp-echo"), &json!(10))
    );
    assert_eq!(measured[3]["wait_probe"], 0);
    probe.kill().await;
    coordinator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_whose_token_is_refused_stops_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let coordinator = TestApp::start(&dir.path().join("data")).await;
    let mut probe = ProbeProcess::spawn(dir.path(), coordinator.addr, "not-a-token", &[]);
    assert!(!probe.exit_success().await);
    let log = probe.log();
    assert!(log.contains("refused the probe token"), "{log}");
    coordinator.stop().await;
}
