//! Crash without loss: a client streams 2,000 results, re-sending until acknowledged, while the
//! server process is killed with SIGKILL mid-stream and restarted on the same data. At the end
//! exactly 2,000 results are stored, none twice, and the probe owner was paid exactly once per
//! result. Runs on the embedded store and on MongoDB.

use futures::{SinkExt, StreamExt};
use probe_protocol::ServerMessage;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

use testkit::params::{busy_ping_params, single_ping_params};
use testkit::probe::hello_frame;
use testkit::process::{create_superuser, free_port, Server};
use testkit::{mongo, JWT_SECRET};

const RESULTS: usize = 2_000;
const WINDOW: usize = 32;
const KILL_AFTER_ACKS: usize = 600;

fn result_frame(operation: &str, n: usize) -> Message {
    testkit::probe::result_frame(
        operation,
        n,
        json!([{"type": "ping", "seq": n, "rtt": 0.042}]),
    )
}

/// One connection's worth of streaming: keeps WINDOW results in flight, removes acknowledged
/// ones from `unacked`; returns when the link drops or everything is acknowledged.
async fn stream_once(
    url: &str,
    operation: &str,
    unacked: &mut BTreeSet<usize>,
    acked: &AtomicUsize,
) {
    let Ok((mut socket, _)) = tokio_tungstenite::connect_async(url).await else {
        tokio::time::sleep(Duration::from_millis(100)).await;
        return;
    };
    if socket.send(hello_frame()).await.is_err() {
        return;
    }
    let mut to_send = unacked.iter().copied().collect::<Vec<_>>().into_iter();
    let mut in_flight = 0;
    loop {
        while in_flight < WINDOW {
            match to_send.next() {
                Some(n) => {
                    if socket.send(result_frame(operation, n)).await.is_err() {
                        return;
                    }
                    in_flight += 1;
                }
                None => break,
            }
        }
        if unacked.is_empty() {
            return;
        }
        let frame = match tokio::time::timeout(Duration::from_secs(20), socket.next()).await {
            Ok(Some(Ok(frame))) => frame,
            _ => return,
        };
        let Message::Text(text) = frame else { continue };
        match ServerMessage::decode(&text) {
            Ok(ServerMessage::ResultAck(ack)) => {
                let n: usize = ack
                    .unique_code
                    .trim_start_matches("result-")
                    .parse()
                    .unwrap();
                if unacked.remove(&n) {
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                in_flight -= 1;
            }
            // Not stored (e.g. the store is busy): keep it, back off, re-send on a new link.
            Ok(ServerMessage::Error(_)) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                return;
            }
            _ => {}
        }
    }
}

async fn crash_without_loss(env: Vec<(String, String)>, data_note: &str) {
    create_superuser(&env);
    let mut server = Server::start(env, free_port());
    let api = server.client();
    server.wait_until_up().await;
    let token = api.funded_by_root("user@example.org", 10_000).await.token;
    let (probe, probe_token) = api.register_probe(&token).await;
    let ws_url = server.ws_url(&probe_token);

    // Connect once so that the probe is available, then create the operation.
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    socket.send(hello_frame()).await.unwrap();
    socket.next().await.unwrap().unwrap();
    let operation = api.ping(&token, &[&probe], busy_ping_params(45)).await;
    drop(socket);
    let me: Value = api.get("/users/me", Some(&token)).await.1;
    let left = me["credits"].as_u64().unwrap(); // after paying for the operation

    let acked = Arc::new(AtomicUsize::new(0));
    let streamer = {
        let (acked, operation, ws_url) = (acked.clone(), operation.clone(), ws_url.clone());
        tokio::spawn(async move {
            let mut unacked: BTreeSet<usize> = (0..RESULTS).collect();
            let deadline = Instant::now() + Duration::from_secs(240);
            while !unacked.is_empty() {
                assert!(
                    Instant::now() < deadline,
                    "results still unacknowledged: {}",
                    unacked.len()
                );
                stream_once(&ws_url, &operation, &mut unacked, &acked).await;
            }
        })
    };
    while acked.load(Ordering::SeqCst) < KILL_AFTER_ACKS {
        assert!(!streamer.is_finished(), "streaming ended before the kill");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill_and_restart();
    let killed_at = acked.load(Ordering::SeqCst);
    assert!(
        killed_at < RESULTS,
        "the kill must happen mid-stream ({killed_at} acked)"
    );
    server.wait_until_up().await;
    streamer.await.expect("every result acknowledged");

    let codes = api.stored_codes(&operation).await;
    let distinct: BTreeSet<&String> = codes.iter().collect();
    assert_eq!(codes.len(), RESULTS, "{data_note}: stored results");
    assert_eq!(
        distinct.len(),
        RESULTS,
        "{data_note}: a result was stored twice"
    );
    let me: Value = api.get("/users/me", Some(&token)).await.1;
    let paid = me["credits"].as_u64().unwrap();
    assert_eq!(
        paid,
        left + 10 * RESULTS as u64,
        "{data_note}: rewards paid exactly once per result"
    );
}

fn base_env() -> Vec<(String, String)> {
    vec![("PLADMED_JWT_SECRET".into(), JWT_SECRET.into())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_and_doubles_nothing_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env();
    env.push(("PLADMED_DATA_DIR".into(), path_string(dir.path())));
    crash_without_loss(env, "embedded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_and_doubles_nothing_on_mongodb() {
    let Some(uri) = mongo::mongo_uri() else {
        return;
    };
    let mut env = base_env();
    env.push(("PLADMED_MONGODB_URI".into(), uri));
    env.push((
        "PLADMED_MONGODB_DATABASE".into(),
        mongo::unique_db_name("crash"),
    ));
    crash_without_loss(env, "mongodb").await;
}

fn path_string(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

/// Creates ping operations of 1 credit each from several concurrent clients until the server
/// stops answering; returns the ids of every operation acknowledged with 201.
async fn create_until_killed(
    base: String,
    token: String,
    probe: String,
    created: Arc<AtomicUsize>,
) -> Vec<String> {
    let client = reqwest::Client::new();
    let body = json!({"probes": [probe], "params": single_ping_params()});
    let mut ids = Vec::new();
    for _ in 0..5_000 {
        let sent = client
            .post(format!("{base}/ping"))
            .header("access_token", &token)
            .json(&body)
            .send()
            .await;
        let Ok(response) = sent else { break };
        if response.status() != reqwest::StatusCode::CREATED {
            break;
        }
        let Ok(operation) = response.json::<Value>().await else {
            break;
        };
        ids.push(operation["_id"].as_str().unwrap().to_string());
        created.fetch_add(1, Ordering::SeqCst);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_operation_creation_keeps_credits_consistent() {
    const GRANTED: u64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env();
    env.push(("PLADMED_DATA_DIR".into(), path_string(dir.path())));
    create_superuser(&env);
    let mut server = Server::start(env, free_port());
    let api = server.client();
    server.wait_until_up().await;
    let token = api.funded_by_root("buyer@example.org", GRANTED).await.token;
    let (probe, probe_token) = api.register_probe(&token).await;
    let ws_url = server.ws_url(&probe_token);
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    socket.send(hello_frame()).await.unwrap();
    socket.next().await.unwrap().unwrap(); // welcome: the probe is connected
                                           // Keep reading so the operation frames never pile up in the probe's queue.
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = socket.next().await {} });

    let created = Arc::new(AtomicUsize::new(0));
    let base = format!("http://127.0.0.1:{}", server.port);
    let creators: Vec<_> = (0..4)
        .map(|_| {
            let id = probe.clone();
            tokio::spawn(create_until_killed(
                base.clone(),
                token.clone(),
                id,
                created.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while created.load(Ordering::SeqCst) < 100 {
        assert!(
            Instant::now() < deadline,
            "operations are not being created"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill_and_restart();
    let mut acknowledged = Vec::new();
    for creator in creators {
        acknowledged.extend(creator.await.unwrap());
    }
    reader.abort();
    server.wait_until_up().await;

    let me: Value = api.get("/users/me", Some(&token)).await.1;
    let mine: Value = api.get("/operations/me", Some(&token)).await.1;
    let operations = mine.as_array().unwrap();
    let debited: u64 = operations
        .iter()
        .map(|op| op["credits"].as_u64().unwrap())
        .sum();
    assert_eq!(
        me["credits"].as_u64().unwrap() + debited,
        GRANTED,
        "every debit has its operation and every operation its debit"
    );
    let stored: BTreeSet<&str> = operations
        .iter()
        .map(|op| op["_id"].as_str().unwrap())
        .collect();
    for id in &acknowledged {
        assert!(
            stored.contains(id.as_str()),
            "operation {id} was acknowledged with 201 but is gone"
        );
    }
    assert!(acknowledged.len() >= 100);
}
