//! Probe link abuse: bad tokens, garbage frames, oversized frames, a second connection, results
//! for operations that are not the probe's. The server keeps serving the others throughout.

use chrono::Utc;
use probe_protocol::{
    close, error_code, Accepted, ContentFormat, Finished, ProbeMessage, ResultReport, ServerMessage,
};
use reqwest::StatusCode;
use serde_json::json;
use testkit::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn bad_or_missing_tokens_are_closed_with_4001() {
    let app = spawn_app().await;
    let owner = app.user("tokens@example.org").await;
    for token in ["", "garbage", owner.token.as_str()] {
        let mut link = app.open_link(token).await;
        let (code, reason) = link.closed().await;
        assert_eq!(code, close::UNAUTHORIZED, "{token:?}: {reason}");
        assert!(!reason.is_empty());
    }
    app.stop().await;
}

#[tokio::test]
async fn malformed_upgrades_are_answered_naming_the_header() {
    let app = spawn_app().await;
    let upgrade = [("connection", "Upgrade"), ("upgrade", "websocket")];
    let key = ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    type Headers = Vec<(&'static str, &'static str)>;
    let cases: Vec<(Headers, StatusCode, &str)> = vec![
        (
            vec![],
            StatusCode::BAD_REQUEST,
            "expected a WebSocket upgrade",
        ),
        (
            vec![upgrade[0], ("upgrade", "h2c"), key],
            StatusCode::BAD_REQUEST,
            "expected a WebSocket upgrade",
        ),
        (
            vec![upgrade[0], upgrade[1], ("sec-websocket-version", "8"), key],
            StatusCode::UPGRADE_REQUIRED,
            "Sec-WebSocket-Version",
        ),
        (
            vec![upgrade[0], upgrade[1], ("sec-websocket-version", "13")],
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Key",
        ),
    ];
    let client = reqwest::Client::new();
    for (headers, status, named) in cases {
        let mut request = client.get(app.url("/probe/ws?token=whatever"));
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("server answers");
        assert_eq!(response.status(), status, "{headers:?}");
        if status == StatusCode::UPGRADE_REQUIRED {
            assert_eq!(response.headers()["sec-websocket-version"], "13");
        }
        let body: serde_json::Value = response.json().await.unwrap();
        let error = body["Error"].as_str().unwrap_or_default();
        assert!(error.contains(named), "{headers:?}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn malformed_frames_close_with_4002_and_others_keep_working() {
    let app = spawn_app_with(|s| s.max_frame_bytes = 64 * 1024).await;
    let owner = app.user("frames@example.org").await;
    let (_, good_token) = app.probe(&owner).await;
    let mut good = app.connect(&good_token, 10).await;
    let cases: Vec<(Message, u16)> = vec![
        (Message::text("not json"), close::PROTOCOL_VIOLATION),
        (
            Message::text(r#"{"type":"launch"}"#),
            close::PROTOCOL_VIOLATION,
        ),
        (
            Message::text(r#"{"type":"result","operation_id":1}"#),
            close::PROTOCOL_VIOLATION,
        ),
        (
            Message::text(
                r#"{"type":"hello","protocol":1,"agent":"x","total_credits":1,"in_use_credits":0}"#,
            ),
            close::PROTOCOL_VIOLATION,
        ),
        (Message::binary(vec![0u8, 1, 2]), close::PROTOCOL_VIOLATION),
        (
            Message::text("x".repeat(100 * 1024)),
            close::MESSAGE_TOO_BIG,
        ),
    ];
    for (frame, expected) in cases {
        let (_, token) = app.probe(&owner).await;
        let mut bad = app.connect(&token, 10).await;
        bad.send_raw(frame.clone()).await;
        let (code, reason) = bad.closed().await;
        assert_eq!(code, expected, "{reason}");
    }
    let (_, token) = app.probe(&owner).await;
    let mut wrong_version = app.open_link(&token).await;
    wrong_version
        .send_raw(Message::text(
            r#"{"type":"hello","protocol":2,"agent":"x","total_credits":1,"in_use_credits":0}"#,
        ))
        .await;
    let (code, reason) = wrong_version.closed().await;
    assert_eq!(code, close::PROTOCOL_VIOLATION);
    assert!(reason.contains("protocol"), "{reason}");

    // The well-behaved probe was never disturbed.
    good.send_raw(Message::Ping(vec![1].into())).await;
    let (status, probes) = app.get("/probes", None).await;
    assert_eq!(status, StatusCode::OK);
    let connected: Vec<_> = probes
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["connected"] == true)
        .collect();
    assert_eq!(connected.len(), 1, "only the good probe is still connected");
    app.stop().await;
}

#[tokio::test]
async fn a_second_connection_supersedes_the_first() {
    let app = spawn_app().await;
    let owner = app.user("twice@example.org").await;
    let (_, token) = app.probe(&owner).await;
    let mut first = app.connect(&token, 10).await;
    let _second = app.connect(&token, 10).await;
    let (code, _) = first.closed().await;
    assert_eq!(code, close::SUPERSEDED);
    let (_, probes) = app.get("/probes", None).await;
    assert_eq!(probes[0]["connected"], true, "the newer link stays up");
    app.stop().await;
}

#[tokio::test]
async fn results_for_operations_of_other_probes_are_refused() {
    let app = spawn_app().await;
    let user = app.funded_user("other@example.org", 1000).await;
    let (target, target_token) = app.probe(&user).await;
    let (_, intruder_token) = app.probe(&user).await;
    let mut target_link = app.connect(&target_token, 100).await;
    let mut intruder = app.connect(&intruder_token, 100).await;
    let operation = app
        .ping_over(&user.token, &target, ping_params(5), &mut target_link)
        .await;
    let forged = ProbeMessage::Result(ResultReport {
        operation_id: operation.clone(),
        unique_code: "forged".into(),
        format: ContentFormat::Json,
        content: json!({}).into(),
        measured_at: Utc::now(),
        error: None,
    });
    intruder.send(&forged).await;
    let (code, reason) = intruder.closed().await;
    assert_eq!(code, close::PROTOCOL_VIOLATION);
    assert!(reason.contains("not assigned"), "{reason}");
    let (_, stored) = app.get(&format!("/operation?id={operation}"), None).await;
    assert_eq!(stored["results"], json!([]));
    app.stop().await;
}

/// A stale record (an operation the server no longer has) is not a forgery: the probe is told
/// which operation is unknown, and the link stays up for the rest of its work.
#[tokio::test]
async fn reports_for_unknown_operations_are_answered_and_the_link_stays_open() {
    let app = spawn_app().await;
    let user = app.funded_user("stale@example.org", 1000).await;
    let (probe, token) = app.probe(&user).await;
    let mut link = app.connect(&token, 100).await;
    let gone = "65a1b2c3d4e5f60718293a4b";
    let stale = [
        ProbeMessage::Accepted(Accepted {
            operation_id: gone.into(),
        }),
        ProbeMessage::Result(ResultReport {
            operation_id: gone.into(),
            unique_code: "stale-1".into(),
            format: ContentFormat::Json,
            content: json!({}).into(),
            measured_at: Utc::now(),
            error: None,
        }),
        ProbeMessage::Finished(Finished {
            operation_id: gone.into(),
        }),
    ];
    for message in &stale {
        link.send(message).await;
        match link.recv().await {
            ServerMessage::Error(notice) => {
                assert_eq!(notice.code, error_code::UNKNOWN_OPERATION, "{message:?}");
                assert_eq!(notice.operation_id.as_deref(), Some(gone));
                assert!(
                    notice.message.contains("operation_id"),
                    "{}",
                    notice.message
                );
            }
            other => panic!("expected an error notice, got {other:?}"),
        }
    }
    let op = app.create_ping(&user.token, &probe, ping_params(5)).await;
    assert!(
        matches!(link.recv().await, ServerMessage::Operation(o) if o.operation_id == op["_id"]),
        "the link still carries new operations"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_silent_probe_is_dropped_and_marked_disconnected() {
    let app = spawn_app_with(|s| s.heartbeat = std::time::Duration::from_secs(1)).await;
    let owner = app.user("silent@example.org").await;
    let (_, token) = app.probe(&owner).await;
    // Never reading means never answering the server's pings.
    let _silent = app.connect(&token, 10).await;
    let (_, probes) = app.get("/probes", None).await;
    assert_eq!(probes[0]["connected"], true);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, probes) = app.get("/probes", None).await;
        if probes[0]["connected"] == false {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "silent probe still connected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn shutdown_closes_probe_links_with_going_away() {
    let app = spawn_app().await;
    let owner = app.user("bye@example.org").await;
    let (_, token) = app.probe(&owner).await;
    let mut link = app.connect(&token, 10).await;
    let closing = tokio::spawn(async move { link.closed().await });
    app.stop().await;
    let (code, _) = closing.await.unwrap();
    assert_eq!(code, close::GOING_AWAY);
}
