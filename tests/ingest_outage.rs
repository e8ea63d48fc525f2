//! Ingest while MongoDB is down: results are not acked (the probe keeps them and is told
//! `store_unavailable`), REST answers 503, the server keeps running; once the database is
//! back, the probe's re-sent results are stored and every result exists exactly once.

use chrono::Utc;
use futures::{SinkExt, StreamExt};
use pladmed::config::StorageSettings;
use probe_protocol::{error_code, ContentFormat, ProbeMessage, ResultReport, ServerMessage};
use serde_json::json;
use std::time::{Duration, Instant};
use testkit::{mongo, ping_params, spawn_app_with, TestProbe};
use tokio_tungstenite::tungstenite::Message;

/// Longer than the kit's wait: a store call may wait out the driver's server selection.
const WAIT: Duration = Duration::from_secs(30);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn result(operation_id: &str, n: usize) -> String {
    ProbeMessage::Result(ResultReport {
        operation_id: operation_id.into(),
        unique_code: format!("r{n}"),
        format: ContentFormat::Json,
        content: json!({"n": n}).into(),
        measured_at: Utc::now(),
        error: None,
    })
    .encode()
}

async fn next_message(socket: &mut Socket) -> ServerMessage {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame in time")
            .expect("link open")
            .expect("readable");
        if let Message::Text(text) = frame {
            return ServerMessage::decode(&text).unwrap();
        }
    }
}

/// Sends result `n` and returns whether it was acked (else the server said the store is
/// unavailable, and the probe keeps it).
async fn deliver(socket: &mut Socket, operation_id: &str, n: usize) -> bool {
    socket
        .send(Message::text(result(operation_id, n)))
        .await
        .unwrap();
    match next_message(socket).await {
        ServerMessage::ResultAck(ack) => {
            assert_eq!(ack.unique_code, format!("r{n}"));
            true
        }
        ServerMessage::Error(notice) => {
            assert_eq!(notice.code, error_code::STORE_UNAVAILABLE, "{notice:?}");
            false
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_sent_during_an_outage_are_not_acked_and_are_stored_once_after_it() {
    let Some(mut database) = mongo::OwnServer::start() else {
        return;
    };
    let uri = database.uri();
    let app = spawn_app_with(|settings| {
        settings.storage = StorageSettings::Mongo {
            uri,
            database: mongo::unique_db_name("ingest_outage"),
        };
    })
    .await;
    let user = app.funded_user("user@example.org", 1000).await;
    let (probe, probe_token) = app.probe(&user).await;
    let TestProbe { mut socket } = app.connect(&probe_token, 1000).await;
    let ping = json!({"probes": [probe], "params": ping_params(10)});
    let (status, operation) = app.post("/ping", Some(&user.token), ping).await;
    assert_eq!(status, 201, "{operation}");
    let operation_id = operation["_id"].as_str().unwrap().to_string();
    assert!(matches!(
        next_message(&mut socket).await,
        ServerMessage::Operation(_)
    ));

    for n in 0..5 {
        assert!(deliver(&mut socket, &operation_id, n).await, "r{n} acked");
    }
    database.kill();
    let mut kept = Vec::new();
    for n in 5..10 {
        if !deliver(&mut socket, &operation_id, n).await {
            kept.push(n);
        }
    }
    assert_eq!(
        kept,
        (5..10).collect::<Vec<_>>(),
        "nothing acked while down"
    );
    let (status, body) = app.get("/probes", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["Error"].as_str().unwrap().contains("unavailable"));
    let (status, _) = app.get("/healthz", None).await;
    assert_eq!(status, 200, "the server keeps running");

    database.restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Some(&n) = kept.first() {
        if deliver(&mut socket, &operation_id, n).await {
            kept.remove(0);
        } else {
            assert!(Instant::now() < deadline, "ingest never resumed");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for n in 0..10 {
        socket
            .send(Message::text(result(&operation_id, n)))
            .await
            .unwrap();
        match next_message(&mut socket).await {
            ServerMessage::ResultAck(ack) => assert!(ack.duplicate, "r{n} already stored"),
            other => panic!("unexpected {other:?}"),
        }
    }
    let (status, page) = app
        .get(
            &format!("/operations/{operation_id}/results?limit=1000"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let mut codes: Vec<String> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["unique_code"].as_str().unwrap().to_string())
        .collect();
    codes.sort();
    let mut expected: Vec<String> = (0..10).map(|n| format!("r{n}")).collect();
    expected.sort();
    assert_eq!(codes, expected, "every result exactly once");
}
