//! GET /operations/{id}/stream: progress, results and the end as Server-Sent Events.

use chrono::{Duration, Utc};
use probe_protocol::{
    Accepted, Finished, OperationKind, ProbeMessage, ResultFormat, ServerMessage,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::probe::result_frame;
use testkit::sse::{self, Event, EventStream};
use testkit::*;

/// A connected probe of a funded user and a ping operation it received.
struct Setup {
    app: TestApp,
    probe: TestProbe,
    operation: String,
}

async fn setup() -> Setup {
    let app = spawn_app().await;
    let user = app.funded_user("streamer@example.org", 100_000).await;
    let (probe_id, token) = app.probe(&user).await;
    let mut probe = app.connect(&token, 1_000_000).await;
    let operation = app
        .ping_over(&user.token, &probe_id, busy_ping_params(5), &mut probe)
        .await;
    Setup {
        app,
        probe,
        operation,
    }
}

async fn open(app: &TestApp, operation: &str, last: Option<&str>) -> EventStream {
    let base = format!("http://{}", app.addr);
    match sse::open(&app.client, &base, operation, last).await {
        Ok(stream) => stream,
        Err((status, body)) => panic!("stream refused: {status} {body}"),
    }
}

/// Sends results `range` and waits for their acknowledgements.
async fn deliver(probe: &mut TestProbe, operation: &str, range: std::ops::Range<usize>) {
    for n in range.clone() {
        probe
            .send_raw(result_frame(operation, n, json!([{"rtt": n}])))
            .await;
    }
    for _ in range {
        match probe.recv().await {
            ServerMessage::ResultAck(ack) => assert!(!ack.duplicate),
            other => panic!("expected result_ack, got {other:?}"),
        }
    }
}

fn progress(assigned: u64, accepted: u64, finished: u64, results: u64) -> Value {
    json!({"assigned": assigned, "accepted": accepted, "finished": finished, "results": results})
}

fn results(events: &[Event]) -> Vec<&Event> {
    events.iter().filter(|e| e.name == "result").collect()
}

#[tokio::test]
async fn stream_sends_progress_then_results_then_end_when_every_probe_finished() {
    let Setup {
        app,
        probe: mut link,
        operation,
        ..
    } = setup().await;
    let mut stream = open(&app, &operation, None).await;
    let first = stream.next().await.unwrap();
    assert_eq!(
        (first.name.as_str(), &first.data),
        ("progress", &progress(1, 0, 0, 0))
    );
    assert_eq!(first.id, None, "only results carry an id");

    link.send(&ProbeMessage::Accepted(Accepted {
        operation_id: operation.clone(),
    }))
    .await;
    deliver(&mut link, &operation, 0..3).await;
    // Results are streamed once settled, progress as it changes: wait for all three.
    let mut seen = Vec::new();
    while results(&seen).len() < 3 {
        let event = stream.next().await.expect("the stream goes on");
        assert_ne!(event.name, "end");
        seen.push(event);
    }
    link.send(&ProbeMessage::Finished(Finished {
        operation_id: operation.clone(),
    }))
    .await;
    seen.extend(stream.until_end().await);

    let stored = app.all_results(&operation).await;
    let streamed: Vec<&Value> = results(&seen).iter().map(|e| &e.data).collect();
    assert_eq!(
        streamed,
        stored.iter().collect::<Vec<_>>(),
        "every result, as the page shows it"
    );
    for (event, result) in results(&seen).iter().zip(&stored) {
        assert_eq!(
            event.id.as_deref(),
            result["_id"].as_str(),
            "id: the result's cursor"
        );
    }
    let progresses: Vec<&Value> = seen
        .iter()
        .filter(|e| e.name == "progress")
        .map(|e| &e.data)
        .collect();
    assert!(
        progresses.contains(&&progress(1, 1, 0, 3)),
        "{progresses:?}"
    );
    let end = seen.last().unwrap();
    assert_eq!(end.name, "end");
    assert_eq!(end.id, None);
    assert_eq!(
        end.data,
        json!({"reason": "finished", "assigned": 1, "accepted": 1, "finished": 1, "results": 3})
    );
}

#[tokio::test]
async fn stream_resumes_after_last_event_id_without_gap_or_repeat() {
    let Setup {
        app,
        probe: mut link,
        operation,
        ..
    } = setup().await;
    deliver(&mut link, &operation, 0..6).await;
    let mut stream = open(&app, &operation, None).await;
    let mut first_part = Vec::new();
    while first_part.len() < 2 {
        let event = stream.next().await.unwrap();
        if event.name == "result" {
            first_part.push(event);
        }
    }
    drop(stream); // the connection drops mid-stream
    deliver(&mut link, &operation, 6..10).await;
    let last = first_part[1].id.clone().unwrap();
    let mut resumed = open(&app, &operation, Some(&last)).await;
    link.send(&ProbeMessage::Finished(Finished {
        operation_id: operation.clone(),
    }))
    .await;
    let rest = resumed.until_end().await;

    let mut ids: Vec<String> = first_part.iter().map(|e| e.id.clone().unwrap()).collect();
    ids.extend(results(&rest).iter().map(|e| e.id.clone().unwrap()));
    let stored: Vec<String> = app
        .all_results(&operation)
        .await
        .iter()
        .map(|r| r["_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored.len(), 10);
    assert_eq!(ids, stored, "no gap, no repeat, in cursor order");
}

#[tokio::test]
async fn stream_ends_once_the_stop_time_has_passed() {
    let app = spawn_app().await;
    let user = app.funded_user("late@example.org", 1_000).await;
    let (probe_id, _) = app.probe(&user).await;
    // An operation whose stop minute is over (the API refuses to create one): straight into
    // the store, as if it had run.
    let operation = pladmed::store::Operation {
        id: pladmed::domain::OperationId::generate(),
        owner: user.id.parse().unwrap(),
        kind: OperationKind::Ping,
        params: serde_json::Map::new(),
        probes: vec![probe_id.parse().unwrap()],
        credits: pladmed::domain::Credits::new(0).unwrap(),
        credits_per_probe: 0,
        result_format: ResultFormat::Json,
        stop_time: Utc::now() - Duration::minutes(3),
        created_at: Utc::now() - Duration::minutes(10),
        max_results_per_probe: 10,
    };
    app.store.create_operation(&operation).await.unwrap();

    let mut stream = open(&app, &operation.id.to_string(), None).await;
    let events = stream.until_end().await;
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["progress", "end"]);
    assert_eq!(
        events[1].data,
        json!({"reason": "stop_time", "assigned": 1, "accepted": 0, "finished": 0, "results": 0})
    );
}

#[tokio::test]
async fn an_idle_stream_gets_keep_alive_comments() {
    let Setup { app, operation, .. } = setup().await;
    let mut stream = open(&app, &operation, None).await;
    assert_eq!(stream.next().await.unwrap().name, "progress");
    // Nothing happens: a comment comes after 15 s of silence.
    let wait = std::time::Duration::from_secs(20);
    let comment = stream.next_within(wait).await.unwrap();
    assert_eq!(
        comment.comment.as_deref(),
        Some("keep-alive"),
        "{comment:?}"
    );
}

#[tokio::test]
async fn an_unknown_or_malformed_operation_is_404_and_a_bad_last_event_id_is_400() {
    let Setup { app, operation, .. } = setup().await;
    let base = format!("http://{}", app.addr);
    for id in ["5f0000000000000000000000", "not-an-id"] {
        let Err((status, body)) = sse::open(&app.client, &base, id, None).await else {
            panic!("a stream of {id}");
        };
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}: {body}");
        assert_eq!(body["Error"], "Operation doesn't exist");
    }
    let Err((status, body)) = sse::open(&app.client, &base, &operation, Some("nope")).await else {
        panic!("a stream with a bad Last-Event-ID");
    };
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["Error"]
            .as_str()
            .unwrap()
            .starts_with("Last-Event-ID: "),
        "{body}"
    );
}

#[tokio::test]
async fn streams_past_the_cap_are_refused_with_503() {
    let app = spawn_app_with(|settings| settings.limits.streams = 1).await;
    let user = app.funded_user("capped@example.org", 100_000).await;
    let (probe_id, token) = app.probe(&user).await;
    let mut link = app.connect(&token, 1_000_000).await;
    let operation = app
        .ping_over(&user.token, &probe_id, busy_ping_params(5), &mut link)
        .await;
    let base = format!("http://{}", app.addr);

    let mut open_one = open(&app, &operation, None).await;
    assert_eq!(open_one.next().await.unwrap().name, "progress");
    let second = sse::open(&app.client, &base, &operation, None).await;
    let Err((status, body)) = second else {
        panic!("a second stream past the cap")
    };
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["Error"]
            .as_str()
            .unwrap()
            .contains("PLADMED_MAX_STREAMS"),
        "{body}"
    );

    drop(open_one);
    // The first stream's task notices the client left at its next write (at most a heartbeat).
    eventually("the slot to be released", 30, || async {
        sse::open(&app.client, &base, &operation, None).await.ok()
    })
    .await;
}

#[tokio::test]
async fn shutdown_ends_open_streams_at_once() {
    let Setup { app, operation, .. } = setup().await;
    let mut stream = open(&app, &operation, None).await;
    assert_eq!(stream.next().await.unwrap().name, "progress");
    let started = std::time::Instant::now();
    app.stop().await;
    // Without it, shutdown would wait for the stream until its drain timeout (10 s).
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next()).await;
    assert!(
        matches!(ended, Ok(None)),
        "the response ends, without `end`"
    );
}

#[tokio::test]
async fn a_client_that_reads_nothing_is_dropped_and_frees_its_slot() {
    use tokio::io::AsyncWriteExt;

    let app = spawn_app_with(|settings| settings.limits.streams = 1).await;
    let user = app.funded_user("stalled@example.org", 100_000).await;
    let (probe_id, token) = app.probe(&user).await;
    let mut link = app.connect(&token, 1_000_000).await;
    let operation = app
        .ping_over(&user.token, &probe_id, busy_ping_params(5), &mut link)
        .await;
    // 16 MiB of results: more than the socket buffers, the body's queue and a page hold.
    let big = "x".repeat(1 << 20);
    for n in 0..16 {
        link.send_raw(result_frame(&operation, n, json!([big])))
            .await;
        assert!(matches!(link.recv().await, ServerMessage::ResultAck(_)));
    }
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(app.addr).await.unwrap();
    let request = format!("GET /operations/{operation}/stream HTTP/1.1\r\nHost: test\r\n\r\n");
    stalled.write_all(request.as_bytes()).await.unwrap();
    // ... and never reads.
    let base = format!("http://{}", app.addr);
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let refused = sse::open(&app.client, &base, &operation, None).await;
    assert!(
        matches!(refused, Err((StatusCode::SERVICE_UNAVAILABLE, _))),
        "the stalled client holds the only slot"
    );
    let started = std::time::Instant::now();
    eventually("the stalled client to be dropped", 90, || async {
        sse::open(&app.client, &base, &operation, None).await.ok()
    })
    .await;
    // Dropped by the 60 s limit, counted from its last successful write.
    assert!(
        started.elapsed() > std::time::Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    drop(stalled);
}
