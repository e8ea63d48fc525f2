//! Per-user and anonymous load (issue 11, items 2 and 5): the probe cap per user, the cached
//! public probe list, the bound on password hashing, the bound on `hello.agent`.

use futures::future::join_all;
use probe_protocol::{
    close, Accepted, ContentFormat, Hello, ProbeMessage, ResultReport, ServerMessage,
    MAX_AGENT_LEN, PROTOCOL_VERSION,
};
use reqwest::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::{ping_params, spawn_app, spawn_app_with, TestProbe, PASSWORD, WAIT};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn racing_registrations_stop_at_the_per_user_cap() {
    let app = spawn_app_with(|s| s.limits.probes_per_user = 5).await;
    let owner = app.user("many-probes@example.org").await;
    let location = json!({"location": {"latitude": 1.0, "longitude": 2.0}});
    let racing = (0..20).map(|_| app.post("/probes", Some(&owner.token), location.clone()));
    let outcomes = join_all(racing).await;

    let created = outcomes.iter().filter(|(s, _)| *s == StatusCode::CREATED);
    assert_eq!(created.count(), 5, "{outcomes:?}");
    for (status, body) in outcomes.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::FORBIDDEN, "{body}");
        let message = body["Error"].as_str().unwrap();
        assert!(
            message.contains("PLADMED_MAX_PROBES_PER_USER") && message.contains("at most 5"),
            "{message}"
        );
    }
    let (_, mine) = app.get("/probes/me", Some(&owner.token)).await;
    assert_eq!(mine.as_array().unwrap().len(), 5);
    let other = app.user("one-probe@example.org").await;
    app.probe(&other).await;
    app.stop().await;
}

/// GET /probes with `If-None-Match`: (status, ETag, body).
async fn list(app: &testkit::TestApp, etag: Option<&str>) -> (StatusCode, String, Value) {
    let mut request = app.client.get(app.url("/probes"));
    if let Some(etag) = etag {
        request = request.header(IF_NONE_MATCH, etag);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    assert_eq!(headers[CACHE_CONTROL], "no-cache");
    let etag = headers[ETAG].to_str().unwrap().to_string();
    let text = response.text().await.unwrap();
    let body = if status == StatusCode::NOT_MODIFIED {
        assert!(text.is_empty(), "304 has no body: {text}");
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, etag, body)
}

/// The list is served from a cache (revalidation answers 304) that each change to what it shows
/// invalidates at once: registration, link up, in-use credits, link down, removal.
#[tokio::test]
async fn the_probe_list_is_revalidated_and_every_change_shows_at_once() {
    let app = spawn_app().await;
    let (status, etag, body) = list(&app, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    let (status, same, _) = list(&app, Some(&etag)).await;
    assert_eq!((status, &same), (StatusCode::NOT_MODIFIED, &etag));
    let (status, _, _) = list(&app, Some(&format!("W/{etag}, \"other\""))).await;
    assert_eq!(
        status,
        StatusCode::NOT_MODIFIED,
        "weak and listed tags match"
    );

    let owner = app.funded_user("lister@example.org", 1_000).await;
    let (id, token) = app.probe(&owner).await;
    let (status, etag, body) = list(&app, Some(&etag)).await;
    assert_eq!(status, StatusCode::OK, "a registration changes the list");
    assert_eq!(body[0]["identifier"], id.as_str());
    assert_eq!(body[0]["connected"], false);

    let mut probe = app.connect(&token, 100).await;
    let (status, etag, body) = list(&app, Some(&etag)).await;
    assert_eq!(status, StatusCode::OK, "a link up changes the list");
    assert_eq!(body[0]["connected"], true);
    assert_eq!(body[0]["in_use_credits"], 0);

    let operation = accept_and_store_one_result(&app, &owner.token, &id, &mut probe).await;
    let (status, etag, body) = list(&app, Some(&etag)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "accepting changes the in-use credits: {operation}"
    );
    assert!(body[0]["in_use_credits"].as_u64().unwrap() > 0, "{body}");

    probe.send_raw(Message::binary(vec![1, 2, 3])).await;
    assert_eq!(probe.closed().await.0, close::PROTOCOL_VIOLATION);
    let (status, etag, body) = list(&app, Some(&etag)).await;
    assert_eq!(status, StatusCode::OK, "a link down changes the list");
    assert_eq!(body[0]["connected"], false);

    let path = format!("/probes/{id}");
    let (status, _) = app
        .call(Method::DELETE, &path, Some(&owner.token), None)
        .await;
    assert!(status.is_success(), "{status}");
    let (status, _, body) = list(&app, Some(&etag)).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!([])),
        "a removal changes the list"
    );
    app.stop().await;
}

/// Creates a ping on `id`, accepts it and has one result acknowledged: frames are handled in
/// order, so once the ack is in, the acceptance has been stored.
async fn accept_and_store_one_result(
    app: &testkit::TestApp,
    token: &str,
    id: &str,
    probe: &mut TestProbe,
) -> String {
    let operation = app.ping_over(token, id, ping_params(5), probe).await;
    let accepted = Accepted {
        operation_id: operation.clone(),
    };
    probe.send(&ProbeMessage::Accepted(accepted)).await;
    probe
        .send(&ProbeMessage::Result(ResultReport {
            operation_id: operation.clone(),
            unique_code: "first".into(),
            format: ContentFormat::Json,
            content: json!([]).into(),
            measured_at: chrono::Utc::now(),
            error: None,
        }))
        .await;
    match probe.recv().await {
        ServerMessage::ResultAck(ack) => assert_eq!(ack.unique_code, "first"),
        other => panic!("expected the ack, got {other:?}"),
    }
    operation
}

fn hello(agent: String) -> ProbeMessage {
    ProbeMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        agent,
        total_credits: 10,
        in_use_credits: 0,
        clock_offset_ms: None,
    })
}

#[tokio::test]
async fn an_agent_longer_than_its_bound_closes_the_link_naming_the_field() {
    let app = spawn_app().await;
    let owner = app.user("agent@example.org").await;
    let (_, token) = app.probe(&owner).await;

    let mut long = app.open_link(&token).await;
    long.send(&hello("a".repeat(MAX_AGENT_LEN + 1))).await;
    let (code, reason) = long.closed().await;
    assert_eq!(code, close::PROTOCOL_VIOLATION);
    assert!(
        reason.starts_with("agent:") && reason.contains("256"),
        "{reason}"
    );

    let mut longest = app.open_link(&token).await;
    longest.send(&hello("a".repeat(MAX_AGENT_LEN))).await;
    assert!(matches!(longest.recv().await, ServerMessage::Welcome(_)));
    app.stop().await;
}

/// With one hash at a time, a burst of logins is partly served and partly told to come back
/// (503 with Retry-After), and nothing fails.
#[tokio::test]
async fn a_burst_of_logins_past_the_hashing_bound_answers_503_with_retry_after() {
    let app = spawn_app_with(|s| {
        s.limits.hash_concurrency = 1;
        s.limits.auth_rate_per_minute = 1_000_000;
    })
    .await;
    app.user("burst@example.org").await;
    let login = || {
        let credentials = json!({"email": "burst@example.org", "password": PASSWORD});
        app.client.post(app.url("/login")).json(&credentials).send()
    };
    let answers = tokio::time::timeout(WAIT * 3, join_all((0..40).map(|_| login())))
        .await
        .expect("every login answered");
    let mut statuses = Vec::new();
    for answer in answers {
        let answer = answer.unwrap();
        if answer.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(answer.headers()[RETRY_AFTER], "1");
            let body: Value = answer.json().await.unwrap();
            assert!(
                body["Error"].as_str().unwrap().contains("password"),
                "{body}"
            );
            statuses.push(503);
        } else {
            statuses.push(answer.status().as_u16());
        }
    }
    let busy = statuses.iter().filter(|&&s| s == 503).count();
    let served = statuses.iter().filter(|&&s| s == 200).count();
    assert_eq!(busy + served, 40, "only 200 or 503: {statuses:?}");
    assert!(busy > 0 && served >= 1, "{statuses:?}");
    app.stop().await;
}
