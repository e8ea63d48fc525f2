//! Revoking a probe's token (POST /probes/{id}/token) and removing a probe (DELETE
//! /probes/{id}): the old token and the open link stop at once, only the owner may do either,
//! and a removed probe's results stay.

use chrono::Utc;
use probe_protocol::{close, ContentFormat, ProbeMessage, ResultReport, ServerMessage};
use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::*;

/// DELETE /probes/{probe_id} as the holder of `token`.
async fn remove(app: &TestApp, probe_id: &str, token: &str) -> (StatusCode, serde_json::Value) {
    let path = format!("/probes/{probe_id}");
    app.call(Method::DELETE, &path, Some(token), None).await
}

/// Opens a link with `token` and returns how the server closed it.
async fn refused_link(app: &TestApp, token: &str) -> (u16, String) {
    let mut link = app.open_link(token).await;
    link.closed().await
}

#[tokio::test]
async fn a_new_token_closes_the_old_link_with_4001_and_only_the_new_token_connects() {
    let app = spawn_app().await;
    let owner = app.user("owner@example.org").await;
    let (probe_id, old_token) = app.probe(&owner).await;
    let mut link = app.connect(&old_token, 100).await;

    let (status, renewed) = app
        .post(
            &format!("/probes/{probe_id}/token"),
            Some(&owner.token),
            json!({}),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(renewed["identifier"], probe_id.as_str());
    let new_token = renewed["token"].as_str().unwrap().to_string();
    assert_ne!(new_token, old_token);
    let (code, reason) = link.closed().await;
    assert_eq!(code, close::UNAUTHORIZED, "{reason}");
    assert!(reason.contains("revoked"), "{reason}");
    let (code, reason) = refused_link(&app, &old_token).await;
    assert_eq!(code, close::UNAUTHORIZED, "{reason}");
    let _link = app.connect(&new_token, 100).await;
    let (_, mine) = app.get("/probes/me", Some(&owner.token)).await;
    assert_eq!(mine[0]["token"], new_token.as_str());
    assert_eq!(mine[0]["connected"], true);
    app.stop().await;
}

#[tokio::test]
async fn only_the_owner_may_renew_or_remove_a_probe() {
    let app = spawn_app().await;
    let owner = app.user("owner@example.org").await;
    let other = app.user("other@example.org").await;
    let admin = app.superuser("root@example.org").await;
    let (probe_id, token) = app.probe(&owner).await;
    let unknown = "000000000000000000000000";
    let cases = [
        (None, probe_id.as_str(), StatusCode::UNAUTHORIZED),
        (Some(&other.token), probe_id.as_str(), StatusCode::FORBIDDEN),
        (Some(&admin.token), probe_id.as_str(), StatusCode::FORBIDDEN),
        (Some(&owner.token), unknown, StatusCode::NOT_FOUND),
        (Some(&owner.token), "not-an-id", StatusCode::NOT_FOUND),
    ];

    for (caller, id, expected) in cases {
        let caller = caller.map(String::as_str);
        let renew = app
            .call(Method::POST, &format!("/probes/{id}/token"), caller, None)
            .await;
        let remove = app
            .call(Method::DELETE, &format!("/probes/{id}"), caller, None)
            .await;
        assert_eq!(renew.0, expected, "renew {id}: {}", renew.1);
        assert_eq!(remove.0, expected, "remove {id}: {}", remove.1);
        assert!(
            !renew.1.to_string().contains(&token),
            "no token to anyone else"
        );
    }
    let (_, probes) = app.get("/probes", None).await;
    assert_eq!(probes[0]["identifier"], probe_id.as_str(), "still there");
    let _link = app.connect(&token, 100).await;
    app.stop().await;
}

#[tokio::test]
async fn a_removed_probe_is_closed_unlisted_and_unassignable_and_its_results_stay() {
    let app = spawn_app().await;
    let owner = app.funded_user("owner@example.org", 100_000).await;
    let (probe_id, token) = app.probe(&owner).await;
    let mut link = app.connect(&token, 1_000_000).await;
    let body = json!({"probes": [probe_id], "params": ping_params(5)});
    let (status, operation) = app.post("/ping", Some(&owner.token), body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{operation}");
    let operation_id = operation["_id"].as_str().unwrap().to_string();
    assert!(matches!(link.recv().await, ServerMessage::Operation(_)));
    link.send(&ProbeMessage::Result(ResultReport {
        operation_id: operation_id.clone(),
        unique_code: "run-1".into(),
        format: ContentFormat::Json,
        content: json!({"rtt": 1.5}).into(),
        measured_at: Utc::now(),
        error: None,
    }))
    .await;
    assert!(matches!(link.recv().await, ServerMessage::ResultAck(_)));

    let (status, body_of_delete) = remove(&app, &probe_id, &owner.token).await;

    assert_eq!(status, StatusCode::NO_CONTENT, "{body_of_delete}");
    let (code, reason) = link.closed().await;
    assert_eq!(code, close::UNAUTHORIZED, "{reason}");
    assert!(reason.contains("removed"), "{reason}");
    let (_, listed) = app.get("/probes", None).await;
    assert_eq!(listed, json!([]));
    let (_, mine) = app.get("/probes/me", Some(&owner.token)).await;
    assert_eq!(mine, json!([]));
    let (status, refused) = app.post("/ping", Some(&owner.token), body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
    assert!(refused["Error"].as_str().unwrap().contains(&probe_id));
    let (_, page) = app
        .get(&format!("/operations/{operation_id}/results"), None)
        .await;
    assert_eq!(page["results"][0]["unique_code"], "run-1", "{page}");
    let (code, _) = refused_link(&app, &token).await;
    assert_eq!(code, close::UNAUTHORIZED);
    let (status, _) = remove(&app, &probe_id, &owner.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "removed once");
    app.stop().await;
}
