//! Operators' view: liveness, health (database reads and writes, clock against a real chronyd,
//! hub), metrics in both formats counting what really happened on the probe link and what the
//! store holds.

use bson::doc;
use chrono::Utc;
use pladmed::config::StorageSettings;
use probe_protocol::{ContentFormat, ProbeMessage, ResultReport, ServerMessage};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::UdpSocket;
use std::time::{Duration, Instant};
use testkit::chrony::{Chronyd, LOCAL_STRATUM};
use testkit::mongo;
use testkit::*;

const HEALTH_CODE: &str = "health-code-0123456789";
const METRICS_CODE: &str = "metrics-code-0123456789";

/// A server with both codes set, measuring its clock against `ntp_server` every second.
async fn monitored_app(ntp_server: String) -> TestApp {
    spawn_app_with(|s| {
        s.health_code = Some(HEALTH_CODE.into());
        s.metrics_code = Some(METRICS_CODE.into());
        s.clock.ntp_server = ntp_server.parse().unwrap();
        s.clock.interval = Duration::from_secs(1);
        s.instance = "test-instance".into();
    })
    .await
}

/// Polls GET /health until `done` holds for (status, body), or fails after ten seconds.
async fn health_until(
    app: &TestApp,
    done: impl Fn(StatusCode, &Value) -> bool,
) -> (StatusCode, Value) {
    let started = Instant::now();
    loop {
        let (status, body) = app.get(&format!("/health?code={HEALTH_CODE}"), None).await;
        if done(status, &body) {
            return (status, body);
        }
        assert!(
            started.elapsed() < WAIT,
            "health never settled: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn metrics(app: &TestApp, format: &str) -> (StatusCode, String, String) {
    let response = app
        .client
        .get(app.url(&format!("/metrics?code={METRICS_CODE}{format}")))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (status, content_type, response.text().await.unwrap())
}

/// The value of an unlabelled Prometheus sample.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn liveness_needs_no_code_and_tells_nothing() {
    let app = monitored_app("127.0.0.1:9".into()).await;
    let (status, body) = app.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "alive"}));
    app.stop().await;
}

#[tokio::test]
async fn health_and_metrics_refuse_a_missing_or_wrong_code() {
    let app = monitored_app("127.0.0.1:9".into()).await;
    for path in [
        "/health",
        "/health?code=wrong",
        "/metrics",
        "/metrics?code=wrong",
    ] {
        let (status, body) = app.get(path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(body["Error"].is_string(), "{path}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn health_reports_database_clock_and_hub_in_the_eosc_shape() {
    let chronyd = Chronyd::start();
    let app = monitored_app(chronyd.addr.to_string()).await;
    let (status, body) = health_until(&app, |status, _| status == StatusCode::OK).await;
    assert_eq!(
        body["status"],
        json!([{"database": true, "ntp": true, "hub": true}])
    );
    assert_eq!(body["global_status"], json!(true));
    assert_eq!(
        body["ident"],
        json!([
            format!("pladmed {}", env!("CARGO_PKG_VERSION")),
            "test-instance"
        ])
    );
    assert_eq!(body["messages"][0]["database"], json!([]));
    assert_eq!(body["messages"][0]["hub"], json!([]));
    let ntp = body["messages"][0]["ntp"][0].as_str().unwrap();
    assert!(ntp.starts_with("offset "), "{ntp}");
    assert!(ntp.contains(&format!("stratum {LOCAL_STRATUM}")), "{ntp}");
    eprintln!("health against chronyd: {status} {ntp}");
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_ntp_server_degrades_health_and_the_server_keeps_serving() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let app = monitored_app(silent.local_addr().unwrap().to_string()).await;
    let (status, body) = health_until(&app, |_, body| {
        body["messages"][0]["ntp"][0]
            .as_str()
            .is_some_and(|m| m.contains("no valid answer"))
    })
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body["status"],
        json!([{"database": true, "ntp": false, "hub": true}])
    );
    assert_eq!(body["global_status"], json!(false));
    let (status, _) = app.get("/probes", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

fn report(operation_id: &str, code: &str) -> ProbeMessage {
    ProbeMessage::Result(ResultReport {
        operation_id: operation_id.into(),
        unique_code: code.into(),
        format: ContentFormat::Json,
        content: json!([]).into(),
        measured_at: Utc::now(),
        error: None,
    })
}

/// A connected probe of `owner` holding a ping operation of theirs; returns it and the
/// operation's id.
async fn probe_with_an_operation(app: &TestApp, owner: &Account) -> (TestProbe, String) {
    let (probe_id, token) = app.probe(owner).await;
    let mut probe = app.connect(&token, 1000).await;
    app.create_ping(&owner.token, &probe_id, ping_params(5))
        .await;
    let ServerMessage::Operation(order) = probe.recv().await else {
        panic!("expected the operation");
    };
    (probe, order.operation_id)
}

#[tokio::test]
async fn metrics_count_operations_results_frames_and_show_the_clock() {
    let chronyd = Chronyd::start();
    let app = monitored_app(chronyd.addr.to_string()).await;
    health_until(&app, |status, _| status == StatusCode::OK).await;
    let researcher = app.funded_user("metrics@example.org", 1000).await;
    let (mut probe, operation_id) = probe_with_an_operation(&app, &researcher).await;
    for _ in 0..2 {
        probe.send(&report(&operation_id, "run-1")).await;
        assert!(matches!(probe.recv().await, ServerMessage::ResultAck(_)));
    }

    let (status, content_type, text) = metrics(&app, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert_eq!(sample(&text, "pladmed_probes_connected"), 1.0);
    assert_eq!(sample(&text, "pladmed_operations_created_total"), 1.0);
    assert_eq!(sample(&text, "pladmed_results_received_total"), 2.0);
    assert_eq!(sample(&text, "pladmed_results_acked_total"), 2.0);
    assert_eq!(sample(&text, "pladmed_results_duplicate_total"), 1.0);
    assert_eq!(sample(&text, "pladmed_result_ack_seconds_count"), 2.0);
    assert_eq!(sample(&text, "pladmed_ws_frames_in_total"), 3.0); // hello + 2 results
    assert!(sample(&text, "pladmed_ws_frames_out_total") >= 4.0); // welcome, operation, 2 acks
    assert_eq!(sample(&text, "pladmed_store_errors_total"), 0.0);
    assert_eq!(
        sample(&text, "pladmed_clock_stratum"),
        f64::from(LOCAL_STRATUM)
    );
    assert!(sample(&text, "pladmed_clock_offset_seconds").abs() < 0.05);
    assert_eq!(sample(&text, "pladmed_clock_sample_ok"), 1.0);
    assert!(sample(&text, "process_resident_memory_bytes") > 1e6);

    let (status, _, influx) = metrics(&app, "&format=influx").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        influx.lines().any(|l| l.starts_with(
            "pladmed_results_duplicate_total,instance=test-instance,app_env=development \
                 counter=1i "
        )),
        "{influx}"
    );
    let (status, _, _) = metrics(&app, "&format=xml").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn welcome_carries_server_time_and_probes_show_their_clock_offset() {
    let app = spawn_app().await;
    let owner = app.user("clock@example.org").await;
    let (probe_id, token) = app.probe(&owner).await;
    let mut probe = app.open_link(&token).await;
    probe.hello(10).await; // reports clock_offset_ms 0.5
    let ServerMessage::Welcome(welcome) = probe.recv().await else {
        panic!("expected welcome");
    };
    let skew = (Utc::now() - welcome.server_time).num_milliseconds().abs();
    assert!(skew < 5_000, "server_time is {skew} ms off");
    let (_, probes) = app.get("/probes", None).await;
    let listed = probes
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["identifier"] == probe_id.as_str())
        .unwrap();
    assert_eq!(listed["clock_offset_ms"], json!(0.5));
    app.stop().await;
}

#[tokio::test]
async fn metrics_show_what_the_store_holds_in_both_formats() {
    let app = monitored_app("127.0.0.1:9".into()).await;
    let researcher = app.funded_user("inventory@example.org", 1000).await; // and an admin
    let (mut probe, operation_id) = probe_with_an_operation(&app, &researcher).await;
    let _offline = app.probe(&researcher).await;
    for code in ["run-1", "run-2", "run-3"] {
        probe.send(&report(&operation_id, code)).await;
        assert!(matches!(probe.recv().await, ServerMessage::ResultAck(_)));
    }

    let (status, _, text) = metrics(&app, "").await;
    assert_eq!(status, StatusCode::OK);
    for (name, count) in [
        ("pladmed_inventory_users", 2.0),
        ("pladmed_inventory_probes", 2.0),
        ("pladmed_inventory_probes_connected", 1.0),
        ("pladmed_inventory_operations", 1.0),
        ("pladmed_inventory_results", 3.0),
    ] {
        assert_eq!(sample(&text, name), count, "{name}");
        assert!(text.contains(&format!("# TYPE {name} gauge")), "{name}");
    }
    let (_, _, influx) = metrics(&app, "&format=influx").await;
    let tags = "instance=test-instance,app_env=development";
    for line in [
        format!("pladmed_inventory_users,{tags} gauge=2 "),
        format!("pladmed_inventory_probes_connected,{tags} gauge=1 "),
        format!("pladmed_inventory_results,{tags} gauge=3 "),
    ] {
        assert!(
            influx.lines().any(|l| l.starts_with(&line)),
            "{line}: {influx}"
        );
    }
    app.stop().await;
}

/// A MongoDB store that answers (ping) but refuses writes: its marker collection rejects every
/// document, as a database refusing writes would. Health must say the database is unhealthy.
#[tokio::test]
async fn health_fails_when_the_store_answers_but_refuses_writes() {
    let Some(uri) = mongo::mongo_uri() else {
        return;
    };
    let database = mongo::unique_db_name("health_writes");
    let app = spawn_app_with(|s| {
        s.health_code = Some(HEALTH_CODE.into());
        s.storage = StorageSettings::Mongo {
            uri: uri.clone(),
            database: database.clone(),
        };
    })
    .await;
    let (_, body) = app.get(&format!("/health?code={HEALTH_CODE}"), None).await;
    assert_eq!(body["status"][0]["database"], json!(true), "{body}");

    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let db = client.database(&database);
    // The first check created it; recreate it refusing every document.
    db.collection::<bson::Document>("health_markers")
        .drop()
        .await
        .unwrap();
    db.create_collection("health_markers")
        .validator(doc! { "never": { "$exists": true } })
        .await
        .unwrap();
    let (status, body) = app.get(&format!("/health?code={HEALTH_CODE}"), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"][0]["database"], json!(false), "{body}");
    let message = body["messages"][0]["database"][0].as_str().unwrap();
    assert!(message.starts_with("answers but cannot write"), "{message}");
    app.stop().await;
    db.drop().await.unwrap();
}

/// The code is checked before the rest of the query: without it, even a bad format is a 403.
#[tokio::test]
async fn metrics_check_the_code_before_the_format() {
    let app = monitored_app("127.0.0.1:9".into()).await;
    let (status, body) = app.get("/metrics?format=xml", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, json!({"Error": "a valid code is required"}));
    let (status, body) = app
        .get(&format!("/metrics?code={METRICS_CODE}&format=xml"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"Error": "format: must be prometheus or influx, not \"xml\""})
    );
    app.stop().await;
}
