//! The MongoDB store, black-box through the [`Store`] trait, against the server that
//! `scripts/test.sh` starts: the properties that depend on MongoDB itself (unique indexes,
//! transactions under contention, durability across a server restart).

use chrono::{Duration, DurationRound, Utc};
use pladmed::domain::{Credits, Email, Location, OperationId, ProbeId, ResultId, UserId};
use pladmed::store::mongo::MongoStore;
use pladmed::store::{
    Insertion, MeasurementResult, Operation, PageLimit, Probe, Reward, Store, StoreError, User,
};
use probe_protocol::{ContentFormat, OperationKind, ResultFormat};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use testkit::mongo;

async fn store() -> Option<Arc<MongoStore>> {
    let (store, _) = store_and_database("mongo_store").await?;
    Some(Arc::new(store))
}

/// A store on a database of its own, and a plain driver handle on that database for what a
/// test inspects below the [`Store`] trait.
async fn store_and_database(prefix: &str) -> Option<(MongoStore, mongodb::Database)> {
    let uri = mongo::mongo_uri()?;
    let name = mongo::unique_db_name(prefix);
    let store = MongoStore::connect(&uri, &name).await.expect("connects");
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    Some((store, client.database(&name)))
}

fn credits(n: u64) -> Credits {
    Credits::new(n).unwrap()
}

fn user(balance: u64) -> User {
    let id = UserId::generate();
    User {
        id,
        email: Email::parse(&format!("u-{id}@example.com")).unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        credits: credits(balance),
        is_superuser: false,
    }
}

fn probe(owner: &User) -> Probe {
    Probe {
        id: ProbeId::generate(),
        owner: owner.id,
        location: Location::new(-34.6, -58.4).unwrap(),
        token_version: 1,
        link: None,
    }
}

fn operation(owner: &User, probe: &Probe, cost: u64) -> Operation {
    let now = Utc::now()
        .duration_trunc(Duration::milliseconds(1))
        .unwrap();
    Operation {
        id: OperationId::generate(),
        owner: owner.id,
        kind: OperationKind::Ping,
        params: Map::from_iter([("ip".to_string(), json!("192.0.2.1"))]),
        probes: vec![probe.id],
        credits: credits(cost),
        credits_per_probe: 1,
        result_format: ResultFormat::Json,
        stop_time: now + Duration::hours(1),
        created_at: now,
        max_results_per_probe: 1_000,
    }
}

fn result(operation: &Operation, probe: &Probe, code: &str, content: Value) -> MeasurementResult {
    let now = Utc::now()
        .duration_trunc(Duration::milliseconds(1))
        .unwrap();
    MeasurementResult {
        id: ResultId::generate(),
        operation: operation.id,
        probe: probe.id,
        unique_code: code.into(),
        format: ContentFormat::Json,
        content: content.into(),
        error: None,
        measured_at: now,
        received_at: now,
    }
}

/// A user, a probe and an operation on it, all stored.
async fn setup(store: &MongoStore, balance: u64) -> (User, Probe, Operation) {
    let owner = user(balance);
    store.insert_user(&owner).await.unwrap();
    let probe = probe(&owner);
    store.insert_probe(&probe, 100).await.unwrap();
    let op = operation(&owner, &probe, 0);
    store.create_operation(&op).await.unwrap();
    (owner, probe, op)
}

async fn balance(store: &MongoStore, user: &User) -> u64 {
    store.user(user.id).await.unwrap().unwrap().credits.get()
}

#[tokio::test]
async fn duplicate_email_is_refused_and_survives_delete_all() {
    let Some(store) = store().await else { return };
    let first = user(1);
    store.insert_user(&first).await.unwrap();
    store.delete_all().await.unwrap();
    store.insert_user(&first).await.unwrap();

    let mut second = user(2);
    second.email = first.email.clone();
    let refused = store.insert_user(&second).await;

    assert!(
        matches!(refused, Err(StoreError::Duplicate("email"))),
        "{refused:?}"
    );
    let same_id = store.insert_user(&first).await;
    assert!(
        matches!(same_id, Err(StoreError::Duplicate(_))),
        "{same_id:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_debits_never_overdraw() {
    let Some(store) = store().await else { return };
    let (owner, probe, _) = setup(&store, 100).await;

    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let (store, op) = (store.clone(), operation(&owner, &probe, 10));
            tokio::spawn(async move { store.create_operation(&op).await })
        })
        .collect();
    let mut created = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(()) => created += 1,
            Err(StoreError::NotEnoughCredits) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }

    assert_eq!(created, 10);
    assert_eq!(balance(&store, &owner).await, 0);
    assert_eq!(store.operations(Some(owner.id)).await.unwrap().len(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicate_results_are_stored_and_paid_once() {
    let Some(store) = store().await else { return };
    let (owner, probe, op) = setup(&store, 0).await;
    let reward = Reward {
        user: owner.id,
        credits: credits(3),
    };

    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let copy = result(&op, &probe, "same", json!({ "rtt": 1.5 }));
            tokio::spawn(async move { store.insert_result(&copy, &reward).await })
        })
        .collect();
    let mut stored = 0;
    for attempt in attempts {
        if attempt.await.unwrap().unwrap() == Insertion::Stored {
            stored += 1;
        }
    }

    assert_eq!(stored, 1);
    assert_eq!(balance(&store, &owner).await, 3);
    assert_eq!(
        store
            .results(op.id, None, PageLimit::count(100))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn content_round_trips_as_ordinary_json() {
    let Some(store) = store().await else { return };
    let (owner, probe, op) = setup(&store, 0).await;
    let reward = Reward {
        user: owner.id,
        credits: Credits::ZERO,
    };
    let contents = [
        json!([{ "type": "ping", "rtt": 12.5, "replies": [1, -2, 3.0], "big": i64::MAX }]),
        json!({ "nested": { "deep": [null, true, "x", { "": 0 }] }, "unicode": "ñ ✓" }),
        json!("plain text output"),
        json!(null),
        json!(1.0e300),
        json!({ "$numberLong": "5", "$date": 5, "a.b": { "$set": 1 } }),
    ];
    let mut stored = Vec::new();
    for (i, content) in contents.into_iter().enumerate() {
        let report = result(&op, &probe, &format!("c{i}"), content);
        store.insert_result(&report, &reward).await.unwrap();
        stored.push(report);
    }

    assert_eq!(
        store
            .results(op.id, None, PageLimit::count(10))
            .await
            .unwrap(),
        stored
    );
}

#[tokio::test]
async fn unrepresentable_content_is_refused_as_not_retryable() {
    let Some(store) = store().await else { return };
    let (owner, probe, op) = setup(&store, 0).await;
    let reward = Reward {
        user: owner.id,
        credits: Credits::ZERO,
    };

    for content in [json!({ "n": u64::MAX }), json!({ "nul\u{0}key": 1 })] {
        let report = result(&op, &probe, "bad", content);
        let refused = store.insert_result(&report, &reward).await;
        assert!(
            matches!(refused, Err(StoreError::Corrupt(_))),
            "{refused:?}"
        );
    }
    assert!(store
        .results(op.id, None, PageLimit::count(10))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn pages_follow_storage_order() {
    let Some(store) = store().await else { return };
    let (owner, probe, op) = setup(&store, 0).await;
    let reward = Reward {
        user: owner.id,
        credits: Credits::ZERO,
    };
    let mut stored = Vec::new();
    for i in 0..7 {
        let report = result(&op, &probe, &format!("r{i}"), json!(i));
        store.insert_result(&report, &reward).await.unwrap();
        stored.push(report);
    }

    let first = store
        .results(op.id, None, PageLimit::count(3))
        .await
        .unwrap();
    let second = store
        .results(op.id, Some(first[2].id), PageLimit::count(3))
        .await
        .unwrap();
    let third = store
        .results(op.id, Some(second[2].id), PageLimit::count(3))
        .await
        .unwrap();

    assert_eq!([first, second, third].concat(), stored);
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_quickly() {
    // Nothing listens on port 9 of loopback (discard); the selection timeout is shortened.
    let started = std::time::Instant::now();
    let uri = "mongodb://127.0.0.1:9/?directConnection=true&serverSelectionTimeoutMS=300";
    let connected = MongoStore::connect(uri, "unreachable").await;
    assert!(
        matches!(connected, Err(StoreError::Unavailable(_))),
        "{:?}",
        connected.err()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_server_crash_and_an_outage_is_unavailable() {
    let Some(mut server) = mongo::OwnServer::start() else {
        return;
    };
    let store = MongoStore::connect(&server.uri(), "crash").await.unwrap();
    let (owner, probe, op) = setup(&store, 50).await;
    let paid = Reward {
        user: owner.id,
        credits: credits(7),
    };
    let report = result(&op, &probe, "r", json!({ "rtt": 3.25 }));
    store.insert_result(&report, &paid).await.unwrap();

    server.kill();
    let started = std::time::Instant::now();
    let refused = store.ping().await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    server.restart();

    assert_eq!(balance(&store, &owner).await, 57);
    assert_eq!(
        store
            .results(op.id, None, PageLimit::count(10))
            .await
            .unwrap(),
        vec![report.clone()]
    );
    let again = store.insert_result(&report, &paid).await.unwrap();
    assert_eq!(again, Insertion::Duplicate, "the unique index survived too");
}

#[tokio::test]
async fn a_standalone_server_is_refused_at_connect() {
    let Some(server) = mongo::OwnServer::start_with(&["--standalone"]) else {
        return;
    };
    let refused = MongoStore::connect(&server.uri(), "standalone").await;
    match refused {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("replica set")),
        other => panic!("{:?}", other.err()),
    }
}

/// A crash between counting an assignment's quota slots and inserting leaves slots counted that
/// no result holds. While the count is fresh, a result refused for want of slots is only told to
/// come again; once the count is stale, it is put back to what is stored and the result stored.
#[tokio::test]
async fn slots_left_counted_by_a_crash_are_given_back_once_stale() {
    let Some((store, database)) = store_and_database("stale_quota").await else {
        return;
    };
    let owner = user(0);
    store.insert_user(&owner).await.unwrap();
    let probe = probe(&owner);
    store.insert_probe(&probe, 100).await.unwrap();
    let mut op = operation(&owner, &probe, 0);
    op.max_results_per_probe = 2;
    store.create_operation(&op).await.unwrap();
    let first = result(&op, &probe, "run-0", json!({}));
    let reward = Reward {
        user: owner.id,
        credits: credits(1),
    };
    assert_eq!(
        store.insert_result(&first, &reward).await.unwrap(),
        Insertion::Stored
    );
    let assignments = database.collection::<bson::Document>("assignments");
    let key =
        bson::doc! { "operation": bson::oid::ObjectId::parse_str(op.id.to_string()).unwrap() };
    let leak = |age: Duration| {
        let at = bson::DateTime::from_chrono(Utc::now() - age);
        bson::doc! { "$set": { "results": 2, "counted_at": at } }
    };
    let second = result(&op, &probe, "run-1", json!({}));

    assignments
        .update_one(key.clone(), leak(Duration::seconds(1)))
        .await
        .unwrap();
    let fresh = store.insert_result(&second, &reward).await;
    assert!(
        matches!(fresh, Err(StoreError::Unavailable(_))),
        "{fresh:?}"
    );
    let again = store.insert_result(&second, &reward).await;
    assert!(
        matches!(again, Err(StoreError::Unavailable(_))),
        "{again:?}"
    );

    assignments
        .update_one(key, leak(Duration::minutes(10)))
        .await
        .unwrap();
    let stale = store.insert_result(&second, &reward).await;
    assert!(
        matches!(stale, Err(StoreError::Unavailable(_))),
        "{stale:?}"
    );
    let repaired = store.insert_result(&second, &reward).await;
    assert_eq!(repaired.unwrap(), Insertion::Stored);
    let third = result(&op, &probe, "run-2", json!({}));
    let full = store.insert_result(&third, &reward).await;
    assert!(matches!(full, Err(StoreError::OverQuota(2))), "{full:?}");
}

/// A result sent again after it was stored (a probe re-sending its window after a reconnect)
/// is a batch of duplicates only: it pays nothing, so it must leave no reward marker behind
/// (an open settlement would be fenced by recovery and leave an entry on its owner for good).
#[tokio::test]
async fn a_batch_of_duplicates_only_leaves_no_reward_marker() {
    let Some((store, database)) = store_and_database("mongo_store").await else {
        return;
    };
    let (owner, probe, op) = setup(&store, 0).await;
    let reward = Reward {
        user: owner.id,
        credits: credits(3),
    };
    let sent = result(&op, &probe, "again", json!({ "rtt": 1.5 }));
    assert_eq!(
        store.insert_result(&sent, &reward).await.unwrap(),
        Insertion::Stored
    );
    let again = result(&op, &probe, "again", json!({ "rtt": 1.5 }));
    assert_eq!(
        store.insert_result(&again, &reward).await.unwrap(),
        Insertion::Duplicate
    );

    let settlements = database.collection::<bson::Document>("settlements");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while settlements.count_documents(bson::doc! {}).await.unwrap() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "a settlement is still open 10 s after the duplicate was answered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(balance(&store, &owner).await, 3, "paid once");
}
