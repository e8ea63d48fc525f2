//! The embedded store on a full disk: writes fail with a clear error and nothing acknowledged
//! is lost or damaged.
//!
//! The disk fills up for the server process only: it runs with a file-size limit (RLIMIT_FSIZE)
//! just above the size of its database file, so growing the file fails as on a full disk. Then:
//! results are answered `store_unavailable` and not acknowledged, operation creation answers
//! 503, /health reports the database unhealthy, the process keeps running, and every request
//! is answered 503 saying the disk may be full and the server must be restarted (redb takes no
//! transaction after a failed write until the file is reopened). Restarted without
//! the limit (space freed), the server holds exactly the acknowledged results, and the refused
//! ones are stored when re-sent.

use futures::{SinkExt, StreamExt};
use probe_protocol::{error_code, ServerMessage};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

use testkit::params::busy_ping_params;
use testkit::probe::{hello_frame, result_frame};
use testkit::process::{create_superuser, free_port, Server};
use testkit::JWT_SECRET;

const HEALTH_CODE: &str = "disk-full-health";
/// How far the database file may grow past its size at the start, in KiB.
const HEADROOM_KIB: u64 = 256;
/// Results sent at most before the limit must have been hit (each about 3.5 KiB).
const MAX_RESULTS: usize = 4_000;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A traceroute-sized result (about 3.5 KiB of JSON).
fn content(n: usize) -> Value {
    let hops: Vec<Value> = (0..24)
        .map(|ttl| json!({"addr": format!("192.0.2.{ttl}"), "probe_ttl": ttl, "rtt": 1.25 * ttl as f64, "reply_size": 56, "icmp_type": 11}))
        .collect();
    json!([{"type": "trace", "seq": n, "dst": "192.0.2.99", "hops": hops}])
}

/// Sends result `n` and waits for its answer: `Ok(())` acked, `Err(code)` an error notice.
async fn send(socket: &mut Socket, operation: &str, n: usize) -> Result<(), String> {
    socket
        .send(result_frame(operation, n, content(n)))
        .await
        .expect("send");
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("an answer within 30 s")
            .expect("the link stays open")
            .expect("a frame");
        let Message::Text(text) = frame else { continue };
        match ServerMessage::decode(&text).expect("a protocol message") {
            ServerMessage::ResultAck(ack) if !ack.duplicate => return Ok(()),
            ServerMessage::Error(notice) => return Err(notice.code),
            // Re-delivered on each link until accepted.
            ServerMessage::Operation(_) => {}
            other => panic!("unexpected answer to result {n}: {other:?}"),
        }
    }
}

async fn connect(server: &Server, probe_token: &str) -> Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url(probe_token))
        .await
        .expect("probe link");
    socket.send(hello_frame()).await.unwrap();
    socket.next().await.unwrap().unwrap(); // welcome
    socket
}

/// Whether /health says the database is healthy.
async fn database_healthy(client: &reqwest::Client, server: &Server) -> bool {
    let url = server.url(&format!("/health?code={HEALTH_CODE}"));
    let health: Value = client.get(url).send().await.unwrap().json().await.unwrap();
    health["status"][0]["database"]
        .as_bool()
        .expect("a database status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_clearly_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        ("PLADMED_JWT_SECRET".to_string(), JWT_SECRET.to_string()),
        ("PLADMED_HEALTH_CODE".into(), HEALTH_CODE.into()),
        (
            "PLADMED_DATA_DIR".into(),
            dir.path().to_str().unwrap().into(),
        ),
        // No NTP server here; health must turn on the store alone.
        ("PLADMED_NTP_SERVER".into(), "127.0.0.1:9".into()),
    ];
    create_superuser(&env);
    let port = free_port();
    let server = Server::start(env.clone(), port);
    let api = server.client();
    let client = &api.http;
    server.wait_until_up().await;
    let token = api.funded_by_root("user@example.org", 10_000).await.token;
    let (probe, probe_token) = api.register_probe(&token).await;
    let socket = connect(&server, &probe_token).await;
    let operation = api.ping(&token, &[&probe], busy_ping_params(45)).await;
    drop(socket);
    drop(server);

    let file = dir.path().join("pladmed.redb");
    let size_kib = std::fs::metadata(&file).unwrap().len() / 1024;
    let mut server = Server::start_with_file_limit(env, port, size_kib + HEADROOM_KIB);
    server.wait_until_up().await;
    let mut socket = connect(&server, &probe_token).await;
    let mut acked = 0;
    let refusal = loop {
        assert!(acked < MAX_RESULTS, "the file-size limit was never reached");
        match send(&mut socket, &operation, acked).await {
            Ok(()) => acked += 1,
            Err(code) => break code,
        }
    };
    assert_eq!(
        refusal,
        error_code::STORE_UNAVAILABLE,
        "after {acked} results"
    );
    assert!(acked > 0, "the store took results before it was full");
    // Still full: the same result is refused again, on the same link.
    assert_eq!(send(&mut socket, &operation, acked).await, Err(refusal));

    let (status, body) = api
        .post(
            "/ping",
            Some(&token),
            json!({"probes": [probe], "params": {"ips": ["127.0.0.1"]}}),
        )
        .await;
    assert_eq!(status, 503, "operation creation on a full disk: {body}");
    assert!(
        body["Error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(
        !database_healthy(client, &server).await,
        "health on a full disk"
    );
    // redb takes no transaction at all after a failed write until the file is reopened: reads
    // are refused too, saying why and what to do.
    let probes = client.get(server.url("/probes")).send().await.unwrap();
    assert_eq!(probes.status(), 503);
    let body: Value = probes.json().await.unwrap();
    let error = body["Error"].as_str().unwrap_or_default();
    assert!(
        error.contains("disk full") && error.contains("restart"),
        "{body}"
    );
    assert!(server.is_running(), "the server survives a full disk");
    drop(socket);

    // Space freed: restarted, the server holds exactly what it acknowledged.
    server.kill_and_restart();
    server.wait_until_up().await;
    let stored = api.stored_codes(&operation).await;
    let expected: Vec<String> = (0..acked).map(|n| format!("result-{n:05}")).collect();
    assert_eq!(stored, expected, "stored = acknowledged");
    assert!(
        database_healthy(client, &server).await,
        "health once space is freed"
    );
    let mut socket = connect(&server, &probe_token).await;
    assert_eq!(send(&mut socket, &operation, acked).await, Ok(()));
    assert_eq!(api.stored_codes(&operation).await.len(), acked + 1);
}
