//! A researcher following an operation live: the reference probe, chosen by place, runs real
//! scamper pings on loopback, and GET /operations/{id}/stream carries each result as the
//! coordinator stores it, then the end once the schedule is over.

use crate::helpers::{deploy, scamper_can_measure, soonest_stop, Deployment};
use chrono::Utc;
use probe_protocol::params::format_stop_time;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::sse;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_stream_carries_real_pings_of_a_probe_chosen_by_place_until_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let Deployment {
        coordinator,
        owner,
        probe_id,
        probe: _running,
        ..
    } = deploy(dir.path(), &[]).await;
    if !scamper_can_measure() {
        return;
    }
    // The test kit registers probes at (-34.6, -58.5).
    let body = json!({
        "select": {"near": {"latitude": -34.61, "longitude": -58.49}, "radius_km": 10, "limit": 5},
        "params": {
            "cron": "* * * * *",
            "stop_time": format_stop_time(soonest_stop(Utc::now())),
            "times_per_minute": 6,
            "ips": ["127.0.0.1"],
            "probecount": 1,
        },
    });
    let (status, created) = coordinator.post("/ping", Some(&owner), body).await;
    let probes = coordinator.get_ok("/probes", None).await;
    assert_eq!(status.as_u16(), 201, "{created} {probes}");
    assert_eq!(created["probes"], json!([{"identifier": probe_id}]));
    let operation = created["_id"].as_str().unwrap();

    let base = format!("http://{}", coordinator.addr);
    let Ok(mut stream) = sse::open(&coordinator.client, &base, operation, None).await else {
        panic!("the stream opens");
    };
    let mut events = Vec::new();
    loop {
        // Pings come every 10 s, keep-alives every 15 s: something within 40 s.
        let event = stream
            .next_within(Duration::from_secs(40))
            .await
            .expect("an end event before the response ends");
        let end = event.name == "end";
        events.push(event);
        if end {
            break;
        }
    }
    assert_eq!(stream.next_within(Duration::from_secs(5)).await, None);

    let streamed: Vec<&Value> = events
        .iter()
        .filter(|e| e.name == "result")
        .map(|e| &e.data)
        .collect();
    assert!(!streamed.is_empty(), "no result streamed: {events:?}");
    for result in &streamed {
        assert_eq!(result["error"], Value::Null, "{result}");
        let objects = result["results"]
            .as_array()
            .expect("scamper's JSON objects");
        assert!(objects.iter().any(|o| o["type"] == "ping"), "{result}");
    }
    let stored = coordinator.all_results(operation).await;
    assert_eq!(
        streamed,
        stored.iter().collect::<Vec<_>>(),
        "every stored result, once"
    );
    let end = &events.last().unwrap().data;
    assert!(
        end["reason"] == "finished" || end["reason"] == "stop_time",
        "{end}"
    );
    assert_eq!(end["results"], json!(stored.len()));
    assert!(
        events
            .iter()
            .any(|e| e.name == "progress" && e.data["accepted"] == 1),
        "the probe's acceptance is reported: {events:?}"
    );
}
