//! Crash without loss: a client streams 2,000 results, re-sending until acknowledged, while the
//! server process is killed with SIGKILL mid-stream and restarted on the same data. At the end
//! exactly 2,000 results are stored, none twice, and the probe owner was paid exactly once per
//! result. Runs on the embedded store and on MongoDB.

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use testkit::crash::{create_through_a_kill, stream_results};

use testkit::params::{busy_ping_params, single_ping_params};
use testkit::probe::hello_frame;
use testkit::process::{create_superuser, free_port, Server};
use testkit::{mongo, JWT_SECRET};

const RESULTS: usize = 2_000;
const KILL_AFTER_ACKS: usize = 600;

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
    let streamer = tokio::spawn(stream_results(
        ws_url,
        operation.clone(),
        RESULTS,
        acked.clone(),
    ));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_operation_creation_keeps_credits_consistent() {
    const GRANTED: u64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env();
    env.push(("PLADMED_DATA_DIR".into(), path_string(dir.path())));
    create_superuser(&env);
    let mut server = Server::start(env, free_port());
    server.wait_until_up().await;
    let token = server
        .client()
        .funded_by_root("buyer@example.org", GRANTED)
        .await
        .token;
    let created = create_through_a_kill(&mut server, &token, 4, 100, single_ping_params()).await;
    created
        .assert_every_debit_has_its_operation(&server, &token, GRANTED)
        .await;
}
