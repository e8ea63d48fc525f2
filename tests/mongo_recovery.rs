//! Recovery on MongoDB of what a killed server leaves half done, made exact: the state a SIGKILL
//! leaves between two writes is written into the database (from the server's own documents),
//! then the server is SIGKILLed and restarted, or left to its periodic sweep.
//!
//! - A debit whose operation (or its assignments) was not inserted: the operation is completed,
//!   the payment neither lost nor taken twice.
//! - A reward settlement interrupted at each step: results inserted but unpaid, paid but still
//!   open, and a settlement that paid only part of its results: each result ends up paid
//!   exactly once.

use bson::oid::ObjectId;
use bson::{doc, Document};
use futures::{SinkExt, StreamExt};
use probe_protocol::ServerMessage;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use testkit::params::busy_ping_params;
use testkit::probe::{hello_frame as hello, result_frame};
use testkit::process::{create_superuser, free_port, Server};
use testkit::{mongo, JWT_SECRET as SECRET};

const INSTANCE: &str = "crashy";

struct Scene {
    server: Server,
    db: mongodb::Database,
    token: String,
    probe_token: String,
    owner: ObjectId,
}

async fn scene(prefix: &str) -> Option<Scene> {
    let uri = mongo::mongo_uri()?;
    let database = mongo::unique_db_name(prefix);
    let env: Vec<(String, String)> = [
        ("PLADMED_JWT_SECRET", SECRET),
        ("PLADMED_MONGODB_URI", &uri),
        ("PLADMED_MONGODB_DATABASE", &database),
        ("PLADMED_INSTANCE", INSTANCE),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    create_superuser(&env);
    let server = Server::start(env, free_port());
    server.wait_until_up().await;
    let token = server
        .client()
        .funded_by_root("owner@example.org", 100_000)
        .await
        .token;
    let (_, probe_token) = server.client().register_probe(&token).await;
    let me: Value = server.client().get_ok("/users/me", Some(&token)).await;
    let owner = me["_id"].as_str().unwrap().parse().unwrap();
    let db = mongodb::Client::with_uri_str(&uri)
        .await
        .unwrap()
        .database(&database);
    Some(Scene {
        server,
        db,
        token,
        probe_token,
        owner,
    })
}

impl Scene {
    fn users(&self) -> mongodb::Collection<Document> {
        self.db.collection("users")
    }

    fn results(&self) -> mongodb::Collection<Document> {
        self.db.collection("results")
    }

    async fn balance(&self) -> u64 {
        let me: Value = self
            .server
            .client()
            .get_ok("/users/me", Some(&self.token))
            .await;
        me["credits"].as_u64().unwrap()
    }

    /// A connected link of the probe, past `welcome`.
    async fn link(
        &self,
    ) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>
    {
        let url = self.server.ws_url(&self.probe_token);
        let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        socket.send(hello()).await.unwrap();
        socket.next().await.unwrap().unwrap();
        socket
    }

    /// A ping operation of the probe (connected meanwhile).
    async fn operation(&self) -> String {
        let socket = self.link().await;
        let probe: Value = self
            .server
            .client()
            .get_ok("/probes/me", Some(&self.token))
            .await;
        let probe = probe[0]["identifier"].as_str().unwrap().to_string();
        let operation = self
            .server
            .client()
            .ping(&self.token, &[&probe], busy_ping_params(45))
            .await;
        drop(socket);
        operation
    }

    /// Sends results `codes` of `operation` and returns how many were acknowledged as duplicates.
    async fn send(&self, operation: &str, codes: std::ops::Range<usize>) -> usize {
        let mut socket = self.link().await;
        let count = codes.len();
        for n in codes {
            let frame = result_frame(operation, n, json!([{"seq": n}]));
            socket.send(frame).await.unwrap();
        }
        let (mut acked, mut duplicates) = (0, 0);
        while acked < count {
            let frame = tokio::time::timeout(Duration::from_secs(20), socket.next()).await;
            let Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))) = frame else {
                panic!("link ended before every ack: {frame:?}");
            };
            if let Ok(ServerMessage::ResultAck(ack)) = ServerMessage::decode(&text) {
                acked += 1;
                duplicates += usize::from(ack.duplicate);
            }
        }
        duplicates
    }

    /// The ids of results `codes` of `operation`.
    async fn result_ids(&self, operation: &str, codes: std::ops::Range<usize>) -> Vec<ObjectId> {
        let mut ids = Vec::new();
        for n in codes {
            let filter = doc! { "operation": operation.parse::<ObjectId>().unwrap(), "unique_code": format!("result-{n:05}") };
            let found = self
                .results()
                .find_one(filter)
                .await
                .unwrap()
                .expect("stored result");
            ids.push(found.get_object_id("_id").unwrap());
        }
        ids
    }

    /// Opens `settlement` for `ids`, owing 10 credits each, and has them name it, as the insert
    /// does.
    async fn mark(&self, ids: &[ObjectId], settlement: ObjectId, instance: &str) {
        let credits = vec![10_i64; ids.len()];
        self.db
            .collection::<Document>("settlements")
            .insert_one(doc! { "_id": settlement, "owner": self.owner, "instance": instance, "results": ids, "credits": credits })
            .await
            .unwrap();
        self.results()
            .update_many(
                doc! { "_id": { "$in": ids } },
                doc! { "$set": { "settlement": settlement } },
            )
            .await
            .unwrap();
    }

    /// Records on the owner that `settlement` paid `ids`, as the payment does.
    async fn record_settlement(&self, settlement: ObjectId, ids: &[ObjectId]) {
        self.users()
            .update_one(
                doc! { "_id": self.owner },
                doc! { "$push": { "settled": { "s": settlement, "ids": ids } } },
            )
            .await
            .unwrap();
    }

    async fn add_credits(&self, credits: i64) {
        self.users()
            .update_one(
                doc! { "_id": self.owner },
                doc! { "$inc": { "credits": credits } },
            )
            .await
            .unwrap();
    }

    /// Undoes the insert of `operation` (or only of its assignments) and leaves the debit's
    /// marker, as a kill right after the debit (or after the operation's insert) does.
    async fn interrupt_debit(
        &self,
        operation: &str,
        at: bson::DateTime,
        instance: &str,
        keep_operation: bool,
    ) {
        let id: ObjectId = operation.parse().unwrap();
        let operations = self.db.collection::<Document>("operations");
        let document = operations
            .find_one(doc! { "_id": id })
            .await
            .unwrap()
            .unwrap();
        let marker = doc! { "id": id, "at": at, "instance": instance, "operation": document };
        self.users()
            .update_one(
                doc! { "_id": self.owner },
                doc! { "$push": { "pending_debits": marker } },
            )
            .await
            .unwrap();
        if !keep_operation {
            operations.delete_one(doc! { "_id": id }).await.unwrap();
        }
        self.db
            .collection::<Document>("assignments")
            .delete_many(doc! { "operation": id })
            .await
            .unwrap();
    }

    async fn assignments_of(&self, operation: &str) -> u64 {
        let id: ObjectId = operation.parse().unwrap();
        let assignments = self.db.collection::<Document>("assignments");
        assignments
            .count_documents(doc! { "operation": id })
            .await
            .unwrap()
    }

    async fn operations(&self) -> Vec<String> {
        let mine: Value = self
            .server
            .client()
            .get_ok("/operations/me", Some(&self.token))
            .await;
        mine.as_array()
            .unwrap()
            .iter()
            .map(|o| o["_id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Markers left: debits, open settlements, settlement entries that paid something.
    async fn markers(&self) -> (u64, u64, u64) {
        let debits = self
            .users()
            .count_documents(doc! { "pending_debits.0": { "$exists": true } })
            .await
            .unwrap();
        let rewards = self
            .db
            .collection::<Document>("settlements")
            .count_documents(doc! {})
            .await
            .unwrap();
        let entries = self
            .users()
            .count_documents(doc! { "settled.ids.0": { "$exists": true } })
            .await
            .unwrap();
        (debits, rewards, entries)
    }

    async fn wait_for_no_markers(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.markers().await != (0, 0, 0) {
            assert!(
                Instant::now() < deadline,
                "markers left: {:?}",
                self.markers().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_between_debit_and_operation_insert_is_completed_at_restart() {
    let Some(mut scene) = scene("debit_recovery").await else {
        return;
    };
    let lost = scene.operation().await;
    let half = scene.operation().await;
    let paid = scene.balance().await;
    scene
        .interrupt_debit(&lost, bson::DateTime::now(), INSTANCE, false)
        .await;
    scene
        .interrupt_debit(&half, bson::DateTime::now(), INSTANCE, true)
        .await;
    assert!(!scene.operations().await.contains(&lost));

    scene.server.kill_and_restart();
    scene.server.wait_until_up().await;

    let operations = scene.operations().await;
    for operation in [&lost, &half] {
        assert!(
            operations.contains(operation),
            "operation {operation} completed"
        );
        assert_eq!(
            scene.assignments_of(operation).await,
            1,
            "assignments of {operation}"
        );
    }
    assert_eq!(
        scene.balance().await,
        paid,
        "each debit taken once, none returned"
    );
    scene.wait_for_no_markers(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_in_the_middle_of_a_reward_settlement_pays_each_result_once() {
    let Some(mut scene) = scene("settlement_recovery").await else {
        return;
    };
    let operation = scene.operation().await;
    let before = scene.balance().await;
    assert_eq!(scene.send(&operation, 0..30).await, 0);
    let expected = before + 300;
    assert_eq!(scene.balance().await, expected);

    // Inserted, not paid.
    let unpaid = scene.result_ids(&operation, 0..10).await;
    scene.mark(&unpaid, ObjectId::new(), INSTANCE).await;
    scene.add_credits(-100).await;
    // Paid, still marked.
    let paid = scene.result_ids(&operation, 10..20).await;
    let settlement = ObjectId::new();
    scene.mark(&paid, settlement, INSTANCE).await;
    scene.record_settlement(settlement, &paid).await;
    // Marked together, but the payment covered only half (the others were inserted after it
    // was computed: the state a partial insert outcome leaves).
    let mixed = scene.result_ids(&operation, 20..30).await;
    let settlement = ObjectId::new();
    scene.mark(&mixed, settlement, INSTANCE).await;
    scene.record_settlement(settlement, &mixed[..5]).await;
    scene.add_credits(-50).await;

    scene.server.kill_and_restart();
    scene.server.wait_until_up().await;

    assert_eq!(
        scene.balance().await,
        expected,
        "every result paid exactly once"
    );
    scene.wait_for_no_markers(Duration::from_secs(10)).await;
    assert_eq!(
        scene.send(&operation, 0..30).await,
        30,
        "re-sent results are duplicates"
    );
    assert_eq!(scene.balance().await, expected, "duplicates pay nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_of_a_vanished_instance_are_finished_by_the_periodic_sweep() {
    let Some(scene) = scene("sweep_recovery").await else {
        return;
    };
    let operation = scene.operation().await;
    let lost = scene.operation().await;
    assert_eq!(scene.send(&operation, 0..10).await, 0);
    let expected = scene.balance().await;
    // Two minutes old, of an instance that never comes back.
    let old = bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() - 120_000);
    scene.interrupt_debit(&lost, old, "vanished", false).await;
    let unpaid = scene.result_ids(&operation, 0..10).await;
    // Its settlement six minutes old: past the five a fenced settlement of a writer that may
    // still run stays open for late inserts, so the sweep also closes it.
    let opened = (bson::DateTime::now().timestamp_millis() - 360_000) / 1000;
    let mut settlement = ObjectId::new().bytes();
    settlement[..4].copy_from_slice(&(opened as u32).to_be_bytes());
    scene
        .mark(&unpaid, ObjectId::from_bytes(settlement), "vanished")
        .await;
    scene.add_credits(-100).await;

    scene.wait_for_no_markers(Duration::from_secs(90)).await;

    assert!(scene.operations().await.contains(&lost));
    assert_eq!(scene.assignments_of(&lost).await, 1);
    assert_eq!(
        scene.balance().await,
        expected,
        "every result paid exactly once"
    );
}
