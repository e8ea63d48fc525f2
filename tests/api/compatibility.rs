//! What the original pladmed-backend's own integration tests and its unchanged frontend rely on:
//! a stop time in the current minute, 404 for probe ids that name no probe, 400 for a credit
//! grant without `id`, and GET /operation with every result.

use chrono::{DateTime, Duration as ChronoDuration, Timelike, Utc};
use futures::future::join_all;
use pladmed::domain::{Credits, OperationId, ProbeId, ResultId, UserId};
use pladmed::store::{Insertion, MeasurementResult, Reward};
use probe_protocol::params::format_stop_time;
use probe_protocol::{ContentFormat, ServerMessage};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::*;

/// Waits for the next minute when this one is nearly over, so that "the current minute" is
/// still current when the request and the reconnection below arrive.
async fn early_in_a_minute() -> DateTime<Utc> {
    let now = Utc::now();
    if now.second() >= 45 {
        let left = 60 - u64::from(now.second());
        tokio::time::sleep(Duration::from_secs(left)).await;
    }
    Utc::now()
}

#[tokio::test]
async fn a_stop_time_in_the_current_minute_runs_and_is_redelivered_until_that_minute_ends() {
    let app = spawn_app().await;
    let user = app.funded_user("this-minute@example.org", 1000).await;
    let (probe_id, probe_token) = app.probe(&user).await;
    let mut probe = app.connect(&probe_token, 1000).await;
    let now = early_in_a_minute().await;
    let params = json!({
        "cron": "* * * * *", "stop_time": format_stop_time(now), "times_per_minute": 1,
        "ips": ["127.0.0.1"]
    });
    let id = app
        .ping_over(&user.token, &probe_id, params, &mut probe)
        .await;
    drop(probe);
    // Not accepted yet and its minute not over: a reconnecting probe gets it again.
    let mut again = app.connect(&probe_token, 1000).await;
    match again.recv().await {
        ServerMessage::Operation(order) => assert_eq!(order.operation_id, id),
        other => panic!("expected the operation again, got {other:?}"),
    }
    app.stop().await;
}

#[tokio::test]
async fn a_stop_time_whose_minute_is_over_is_refused_naming_it() {
    let app = spawn_app().await;
    let user = app.funded_user("minute-over@example.org", 1000).await;
    let (probe_id, probe_token) = app.probe(&user).await;
    let _probe = app.connect(&probe_token, 1000).await;
    let params = json!({
        "cron": "* * * * *", "stop_time": format_stop_time(Utc::now() - ChronoDuration::minutes(1)),
        "times_per_minute": 1, "ips": ["127.0.0.1"]
    });
    let (status, body) = app
        .post(
            "/ping",
            Some(&user.token),
            json!({"probes": [probe_id], "params": params}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["Error"].as_str().unwrap();
    assert!(message.starts_with("params.stop_time: "), "{message}");
    app.stop().await;
}

/// Valid parameters of each kind, stopping in five minutes.
fn valid_params(kind: &str) -> Value {
    let mut params = ping_params(5);
    if kind == "dns" {
        let params = params.as_object_mut().unwrap();
        params.remove("ips");
        params.insert("fqdns".into(), json!(["example.org"]));
    }
    params
}

#[tokio::test]
async fn probe_ids_that_name_no_probe_are_404_naming_the_id_for_every_kind() {
    let app = spawn_app().await;
    let user = app.funded_user("probe-ids@example.org", 1000).await;
    let unknown = ProbeId::generate().to_string();
    for kind in ["traceroute", "ping", "dns"] {
        let path = format!("/{kind}");
        for id in ["xyz", "6047c91ef391a23bca4c31d", unknown.as_str()] {
            let body = json!({"probes": [id], "params": valid_params(kind)});
            let (status, reply) = app.post(&path, Some(&user.token), body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path} {id}: {reply}");
            let message = reply["Error"].as_str().unwrap();
            assert!(message.contains(id), "{path}: {message}");
        }
        // As the original, invalid parameters are a 400 before any probe is looked at.
        let body = json!({"probes": ["xyz"], "params": {"cron": "* * * * *"}});
        let (status, reply) = app.post(&path, Some(&user.token), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {reply}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_credit_grant_without_an_id_is_400_naming_it() {
    let app = spawn_app().await;
    let admin = app.superuser("grantor@example.org").await;
    for body in [json!({"credits": 5}), json!({"id": "", "credits": 5})] {
        let (status, reply) = app.post("/credits", Some(&admin.token), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert!(
            reply["Error"].as_str().unwrap().starts_with("id: "),
            "{reply}"
        );
    }
    let unknown = UserId::generate().to_string();
    for id in ["garbage", unknown.as_str()] {
        let body = json!({"id": id, "credits": 5});
        let (status, reply) = app.post("/credits", Some(&admin.token), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}: {reply}");
    }
    app.stop().await;
}

/// A connected probe of `owner`, its id, and an operation of `kind` created on it (201).
async fn created(app: &TestApp, owner: &Account, kind: &str) -> (TestProbe, String, Value) {
    created_with(app, owner, kind, valid_params(kind)).await
}

/// Like [`created`], with these parameters.
async fn created_with(
    app: &TestApp,
    owner: &Account,
    kind: &str,
    params: Value,
) -> (TestProbe, String, Value) {
    let (probe_id, probe_token) = app.probe(owner).await;
    let probe = app.connect(&probe_token, 1000).await;
    let body = json!({"probes": [probe_id], "params": params});
    let (status, op) = app
        .post(&format!("/{kind}"), Some(&owner.token), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{op}");
    (probe, probe_id, op)
}

/// Several pages of the stream, the last one full (the story test covers a partial last page).
const MANY: u64 = 400;

#[tokio::test]
async fn get_operation_streams_every_result_of_the_operation() {
    let app = spawn_app().await;
    let user = app.funded_user("download@example.org", 1000).await;
    // A schedule whose quota holds every result stored below.
    let (_probe, probe_id, op) = created_with(&app, &user, "ping", busy_ping_params(8)).await;
    let operation: OperationId = op["_id"].as_str().unwrap().parse().unwrap();
    let probe: ProbeId = probe_id.parse().unwrap();
    let owner: UserId = user.id.parse().unwrap();
    // Identifiers made in order are stored in that order; the writes may share commits.
    let results: Vec<MeasurementResult> = (0..MANY)
        .map(|n| MeasurementResult {
            id: ResultId::generate(),
            operation,
            probe,
            unique_code: format!("r{n:04}"),
            format: ContentFormat::Json,
            content: json!({"n": n}).into(),
            error: None,
            measured_at: Utc::now(),
            received_at: Utc::now(),
        })
        .collect();
    let reward = Reward {
        user: owner,
        credits: Credits::new(1).unwrap(),
    };
    for batch in results.chunks(50) {
        let stored = join_all(batch.iter().map(|r| app.store.insert_result(r, &reward))).await;
        assert!(stored.into_iter().all(|s| s.unwrap() == Insertion::Stored));
    }

    let response = app
        .client
        .get(app.url(&format!("/operation?id={operation}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/json");
    assert!(
        headers.get("content-length").is_none(),
        "streamed, not built in memory: {headers:?}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["_id"], op["_id"]);
    assert_eq!(body["params"], op["params"]);
    let numbers: Vec<u64> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["results"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (0..MANY).collect::<Vec<_>>());
    assert_eq!(body["results"][0]["probe"], probe_id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn get_operation_without_results_is_a_complete_empty_array() {
    let app = spawn_app().await;
    let user = app.funded_user("no-results@example.org", 1000).await;
    let (_probe, _, op) = created(&app, &user, "dns").await;
    let id = op["_id"].as_str().unwrap();
    let (status, fetched) = app.get(&format!("/operation?id={id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{fetched}");
    assert_eq!(fetched["results"], json!([]));
    assert_eq!(fetched["operation"], "dns");
    app.stop().await;
}
