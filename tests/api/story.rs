//! The full story: users, a probe, operations of every kind, results exactly once, credits.

use chrono::Utc;
use probe_protocol::{
    Accepted, ContentFormat, Finished, OperationKind, ProbeMessage, ResultFormat, ResultReport,
    ServerMessage,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::*;

fn result(operation_id: &str, code: &str, content: Value) -> ProbeMessage {
    ProbeMessage::Result(ResultReport {
        operation_id: operation_id.into(),
        unique_code: code.into(),
        format: ContentFormat::Json,
        content: content.into(),
        measured_at: Utc::now(),
        error: None,
    })
}

async fn expect_ack(probe: &mut TestProbe, code: &str, duplicate: bool) {
    match probe.recv().await {
        ServerMessage::ResultAck(ack) => {
            assert_eq!(ack.unique_code, code);
            assert_eq!(ack.duplicate, duplicate, "ack of {code}");
        }
        other => panic!("expected result_ack, got {other:?}"),
    }
}

/// Creates an operation, checks the probe receives it, and returns (operation id, paid credits).
async fn create_and_receive(
    app: &TestApp,
    user: &Account,
    probe: &mut TestProbe,
    path: &str,
    body: Value,
    kind: OperationKind,
    format: ResultFormat,
) -> (String, u64) {
    let (status, op) = app.post(path, Some(&user.token), body).await;
    assert_eq!(status, StatusCode::CREATED, "{op}");
    let id = op["_id"].as_str().unwrap().to_string();
    assert_eq!(op["results"], json!([]));
    match probe.recv().await {
        ServerMessage::Operation(order) => {
            assert_eq!(order.operation_id, id);
            assert_eq!(order.kind, kind);
            assert_eq!(order.result_format, format);
            assert_eq!(order.params["cron"], op["params"]["cron"]);
        }
        other => panic!("expected operation, got {other:?}"),
    }
    (id, op["credits"].as_u64().unwrap())
}

/// A funded user's 5-minute busy ping on a probe of its own, connected: (probe, operation id).
async fn busy_ping_on_a_new_probe(app: &TestApp, email: &str) -> (TestProbe, String) {
    let researcher = app.funded_user(email, 1000).await;
    let (probe_id, probe_token) = app.probe(&researcher).await;
    let mut probe = app.connect(&probe_token, 1000).await;
    let (id, _) = create_and_receive(
        app,
        &researcher,
        &mut probe,
        "/ping",
        json!({"probes": [probe_id], "params": busy_ping_params(5)}),
        OperationKind::Ping,
        ResultFormat::Json,
    )
    .await;
    (probe, id)
}

#[tokio::test]
async fn operations_flow_from_frontend_to_probe_and_results_come_back_once() {
    let app = spawn_app().await;
    let researcher = app.funded_user("researcher@example.org", 100_000).await;
    let owner = app.user("owner@example.org").await;
    let (probe_id, probe_token) = app.probe(&owner).await;

    let (status, mine) = app.get("/probes/me", Some(&owner.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        mine[0]["token"], probe_token,
        "the token dialog reads the token from /probes/me"
    );
    assert_eq!(mine[0]["connected"], false);

    let mut probe = app.connect(&probe_token, 1_000_000).await;
    let (_, probes) = app.get("/probes", Some("not-even-a-token")).await;
    assert_eq!(probes[0]["identifier"], probe_id.as_str());
    assert_eq!(probes[0]["connected"], true);
    assert_eq!(probes[0]["availability"], 1.0);
    assert!(
        probes[0].get("token").is_none(),
        "public listing never shows tokens"
    );

    let ping = json!({"probes": [probe_id], "params": ping_params(3), "result_format": "json"});
    let (ping_id, ping_cost) = create_and_receive(
        &app,
        &researcher,
        &mut probe,
        "/ping",
        ping,
        OperationKind::Ping,
        ResultFormat::Json,
    )
    .await;
    let traceroute = json!({"probes": [probe_id], "result_format": "dump", "params": {
        "cron": "* * * * *", "stop_time": stop_time_in(3), "times_per_minute": 2,
        "ips": ["127.0.0.1"], "fqdns": ["localhost"], "maxttl": 30, "method": "icmp-paris"}});
    let (trace_id, trace_cost) = create_and_receive(
        &app,
        &researcher,
        &mut probe,
        "/traceroute",
        traceroute,
        OperationKind::Traceroute,
        ResultFormat::Dump,
    )
    .await;
    let dns = json!({"probes": [probe_id], "result_format": "json", "params": {
        "cron": "* * * * *", "stop_time": stop_time_in(3), "times_per_minute": 1, "fqdns": ["example.org"], "type": "a"}});
    let (dns_id, dns_cost) = create_and_receive(
        &app,
        &researcher,
        &mut probe,
        "/dns",
        dns,
        OperationKind::Dns,
        ResultFormat::Text,
    )
    .await;

    // Per execution: ping 1 per destination, traceroute 15 per destination; at least 1 run.
    assert!(ping_cost >= 1 && dns_cost >= 1);
    assert!(
        trace_cost >= 15 * 2 * 2,
        "traceroute to 2 destinations twice a minute: {trace_cost}"
    );
    assert_eq!(
        app.credits_of(&researcher).await,
        100_000 - ping_cost - trace_cost - dns_cost
    );

    probe
        .send(&ProbeMessage::Accepted(Accepted {
            operation_id: ping_id.clone(),
        }))
        .await;
    probe
        .send(&result(
            &ping_id,
            "ping-1",
            json!([{"type": "ping", "rtt": 0.1}]),
        ))
        .await;
    expect_ack(&mut probe, "ping-1", false).await;
    probe
        .send(&result(
            &ping_id,
            "ping-1",
            json!([{"type": "ping", "rtt": 0.1}]),
        ))
        .await;
    expect_ack(&mut probe, "ping-1", true).await;
    probe
        .send(&result(
            &ping_id,
            "ping-2",
            json!([{"type": "ping", "rtt": 0.2}]),
        ))
        .await;
    expect_ack(&mut probe, "ping-2", false).await;
    probe
        .send(&result(&trace_id, "trace-1", json!("dump text")))
        .await;
    expect_ack(&mut probe, "trace-1", false).await;
    probe
        .send(&result(&dns_id, "dns-1", json!("dig output")))
        .await;
    expect_ack(&mut probe, "dns-1", false).await;

    let (status, op) = app
        .get(
            &format!("/operation?id={ping_id}"),
            Some("stale-token-is-ignored"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let results = op["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "the re-sent result is stored once: {op}");
    assert_eq!(results[0]["probe"], probe_id.as_str());
    assert_eq!(results[0]["results"], json!([{"type": "ping", "rtt": 0.1}]));

    assert_eq!(
        app.credits_of(&owner).await,
        4 * 10,
        "10 credits per new result, none for the duplicate"
    );

    let (_, probes) = app.get("/probes", None).await;
    assert!(
        probes[0]["availability"].as_f64().unwrap() < 1.0,
        "accepted operation holds credits"
    );
    probe
        .send(&ProbeMessage::Finished(Finished {
            operation_id: ping_id.clone(),
        }))
        .await;
    probe.send(&result(&ping_id, "ping-3", json!([]))).await; // a round trip: finished was handled
    expect_ack(&mut probe, "ping-3", false).await;
    let (_, probes) = app.get("/probes", None).await;
    assert_eq!(
        probes[0]["availability"], 1.0,
        "finished releases the credits"
    );

    let (_, mine) = app.get("/operations/me", Some(&researcher.token)).await;
    assert_eq!(mine.as_array().unwrap().len(), 3);
    assert!(
        mine[0]["credits"].is_u64()
            && mine[0]["params"].is_object()
            && mine[0].get("results").is_none()
    );
    app.stop().await;
}

#[tokio::test]
async fn results_page_through_large_operations() {
    let app = spawn_app().await;
    let (mut probe, id) = busy_ping_on_a_new_probe(&app, "pages@example.org").await;
    for n in 0..250 {
        probe
            .send(&result(&id, &format!("r{n:03}"), json!({"n": n})))
            .await;
        expect_ack(&mut probe, &format!("r{n:03}"), false).await;
    }
    let (_, op) = app.get(&format!("/operation?id={id}"), None).await;
    let streamed: Vec<u64> = op["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["results"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(streamed, (0..250).collect::<Vec<u64>>());
    let mut seen = Vec::new();
    let mut path = format!("/operations/{id}/results?limit=70");
    loop {
        let (status, page) = app.get(&path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["results"]["n"].as_u64().unwrap()),
        );
        match page["next"].as_str() {
            Some(cursor) => path = format!("/operations/{id}/results?limit=70&after={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, (0..250).collect::<Vec<u64>>());
    app.stop().await;
}

/// Pages end at 4 MiB of results whatever their count: five results of 1.5 MiB are served as
/// three (4.5 MiB, the third reaching the bound) and two, and the download streams all five.
#[tokio::test]
async fn results_pages_end_at_their_byte_bound_and_the_download_streams_them_all() {
    let app = spawn_app().await;
    let (mut probe, id) = busy_ping_on_a_new_probe(&app, "heavy@example.org").await;
    let heavy = |n: usize| json!(format!("{n}").repeat(3 << 19));
    for n in 0..5 {
        probe.send(&result(&id, &format!("h{n}"), heavy(n))).await;
        expect_ack(&mut probe, &format!("h{n}"), false).await;
    }
    let codes = |page: &Value| -> Vec<String> {
        let results = page["results"].as_array().unwrap();
        results
            .iter()
            .map(|r| r["unique_code"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, first) = app
        .get(&format!("/operations/{id}/results?limit=1000"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(codes(&first), ["h0", "h1", "h2"]);
    let cursor = first["next"]
        .as_str()
        .expect("a page cut by its bytes has a next");
    let path = format!("/operations/{id}/results?limit=1000&after={cursor}");
    let (_, second) = app.get(&path, None).await;
    assert_eq!(codes(&second), ["h3", "h4"]);
    assert_eq!(second["next"], Value::Null);
    assert_eq!(second["results"][1]["results"], heavy(4));
    let (_, op) = app.get(&format!("/operation?id={id}"), None).await;
    assert_eq!(codes(&op), ["h0", "h1", "h2", "h3", "h4"]);
    app.stop().await;
}

#[tokio::test]
async fn an_operation_for_a_disconnected_probe_is_delivered_when_it_comes_back() {
    let app = spawn_app().await;
    let researcher = app.funded_user("late@example.org", 1000).await;
    let (probe_id, probe_token) = app.probe(&researcher).await;
    let mut probe = app.connect(&probe_token, 1000).await;
    let op = app
        .create_ping(&researcher.token, &probe_id, ping_params(5))
        .await;
    drop(probe);
    let mut again = app.connect(&probe_token, 1000).await;
    match again.recv().await {
        ServerMessage::Operation(order) => {
            assert_eq!(order.operation_id, op["_id"].as_str().unwrap())
        }
        other => panic!("expected the pending operation, got {other:?}"),
    }
    again
        .send(&ProbeMessage::Accepted(Accepted {
            operation_id: order_id(&op),
        }))
        .await;
    again
        .send(&result(&order_id(&op), "while-accepting", json!(0)))
        .await;
    expect_ack(&mut again, "while-accepting", false).await; // accepted was handled before this
    drop(again);
    probe = app.connect(&probe_token, 1000).await;
    probe
        .send(&result(&order_id(&op), "after-accept", json!(1)))
        .await;
    expect_ack(&mut probe, "after-accept", false).await; // no second delivery came first
    app.stop().await;
}

fn order_id(op: &Value) -> String {
    op["_id"].as_str().unwrap().to_string()
}
