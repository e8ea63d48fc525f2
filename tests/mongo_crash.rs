//! SIGKILL on MongoDB, where the hot paths use no transaction (see `src/store/mongo/`):
//! results of one owner ingested by two server instances at once, one of them killed and
//! restarted mid-stream; operations created by concurrent clients while the server is killed.
//! Afterwards every acknowledged write is there exactly once, every result was paid exactly
//! once, every debit has its operation, and no pending marker is left behind.

use bson::doc;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::crash::{create_through_a_kill, stream_results};
use testkit::params::{busy_ping_params, single_ping_params};
use testkit::probe::hello_frame as hello;
use testkit::process::{create_superuser, free_port, Server};
use testkit::{mongo, JWT_SECRET as SECRET};

const RESULTS: usize = 600;

/// The environment of one server instance on database `database`.
fn env(uri: &str, database: &str, instance: &str) -> Vec<(String, String)> {
    [
        ("PLADMED_JWT_SECRET", SECRET),
        ("PLADMED_MONGODB_URI", uri),
        ("PLADMED_MONGODB_DATABASE", database),
        ("PLADMED_INSTANCE", instance),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Pending markers left in the database: debits whose operation may be missing, open reward
/// settlements, settlement entries not cleared.
async fn markers_left(uri: &str, database: &str) -> (u64, u64, u64) {
    let client = mongodb::Client::with_uri_str(uri).await.unwrap();
    let db = client.database(database);
    let users = db.collection::<bson::Document>("users");
    let debits = users
        .count_documents(doc! { "pending_debits.0": { "$exists": true } })
        .await
        .unwrap();
    let rewards = db
        .collection::<bson::Document>("settlements")
        .count_documents(doc! {})
        .await
        .unwrap();
    let entries = users
        .count_documents(doc! { "settled.ids.0": { "$exists": true } })
        .await
        .unwrap();
    (debits, rewards, entries)
}

/// Waits (bounded) until the markers of finished writes are cleared (they go after the answer,
/// retried a few times when the database is slow).
async fn assert_no_markers(uri: &str, database: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = markers_left(uri, database).await;
        if left == (0, 0, 0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "markers left (debits, rewards, entries): {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_ingesting_for_one_owner_lose_and_double_nothing_across_a_sigkill() {
    let Some(uri) = mongo::mongo_uri() else {
        return;
    };
    let database = mongo::unique_db_name("two_instances");
    let (env_a, env_b) = (env(&uri, &database, "a"), env(&uri, &database, "b"));
    create_superuser(&env_a);
    let mut a = Server::start(env_a, free_port());
    let b = Server::start(env_b, free_port());
    a.wait_until_up().await;
    b.wait_until_up().await;
    let token = a
        .client()
        .funded_by_root("owner@example.org", 20_000)
        .await
        .token;
    let mut streams = Vec::new();
    let acked = Arc::new(AtomicUsize::new(0));
    for server in [&a, &b] {
        let (probe, probe_token) = server.client().register_probe(&token).await;
        let url = server.ws_url(&probe_token);
        let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        socket.send(hello()).await.unwrap();
        socket.next().await.unwrap().unwrap();
        let operation = server
            .client()
            .ping(&token, &[&probe], busy_ping_params(45))
            .await;
        drop(socket);
        streams.push((url, operation));
    }
    let me: Value = a.client().get_ok("/users/me", Some(&token)).await;
    let left = me["credits"].as_u64().unwrap();

    let streamers: Vec<_> = streams
        .iter()
        .map(|(url, operation)| {
            tokio::spawn(stream_results(
                url.clone(),
                operation.clone(),
                RESULTS,
                acked.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.load(Ordering::SeqCst) < RESULTS / 2 {
        assert!(
            Instant::now() < deadline,
            "results are not being acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.kill_and_restart();
    assert!(
        acked.load(Ordering::SeqCst) < 2 * RESULTS,
        "killed mid-stream"
    );
    a.wait_until_up().await;
    for streamer in streamers {
        streamer.await.expect("every result acknowledged");
    }

    for (_, operation) in &streams {
        let codes = b.client().stored_codes(operation).await;
        let distinct: BTreeSet<&String> = codes.iter().collect();
        assert_eq!(codes.len(), RESULTS, "stored results of {operation}");
        assert_eq!(
            distinct.len(),
            RESULTS,
            "a result of {operation} stored twice"
        );
    }
    assert_no_markers(&uri, &database).await;
    let me: Value = b.client().get_ok("/users/me", Some(&token)).await;
    let paid = me["credits"].as_u64().unwrap();
    assert_eq!(
        paid,
        left + 10 * 2 * RESULTS as u64,
        "each reward paid exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_operation_creation_on_mongodb_completes_every_debit() {
    const GRANTED: u64 = 1_000_000;
    let Some(uri) = mongo::mongo_uri() else {
        return;
    };
    let database = mongo::unique_db_name("debits_crash");
    let env = env(&uri, &database, "solo");
    create_superuser(&env);
    let mut server = Server::start(env, free_port());
    server.wait_until_up().await;
    let token = server
        .client()
        .funded_by_root("buyer@example.org", GRANTED)
        .await
        .token;
    let created = create_through_a_kill(&mut server, &token, 8, 50, single_ping_params()).await;
    created
        .assert_every_debit_has_its_operation(&server, &token, GRANTED)
        .await;
    assert_no_markers(&uri, &database).await;
}
