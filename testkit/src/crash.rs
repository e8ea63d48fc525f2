//! What the SIGKILL tests (tests/crash.rs, tests/mongo_crash.rs) share: a probe that streams
//! results and re-sends what was not acknowledged, and clients that create operations until the
//! server dies, with the check that every debit has its operation afterwards.

use crate::probe::{hello_frame, result_frame};
use crate::process::Server;
use futures::{SinkExt, StreamExt};
use probe_protocol::ServerMessage;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Results a streaming probe keeps unacknowledged at once.
pub const WINDOW: usize = 32;
/// Longest a streaming probe takes to have every result acknowledged, restarts included.
const STREAM_DEADLINE: Duration = Duration::from_secs(240);

/// Streams results `0..total` of `operation` to `url` ([`WINDOW`] in flight), counting each
/// first acknowledgement in `acked`, as a probe does: whatever is not acknowledged when its link
/// drops, or answered with an error, is sent again on the next link. Panics if not every result
/// is acknowledged within four minutes.
pub async fn stream_results(url: String, operation: String, total: usize, acked: Arc<AtomicUsize>) {
    let mut unacked: BTreeSet<usize> = (0..total).collect();
    let deadline = Instant::now() + STREAM_DEADLINE;
    while !unacked.is_empty() {
        assert!(
            Instant::now() < deadline,
            "results still unacknowledged: {}",
            unacked.len()
        );
        let Ok((mut socket, _)) = tokio_tungstenite::connect_async(&url).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if socket.send(hello_frame()).await.is_err() {
            continue;
        }
        let mut to_send = unacked.iter().copied().collect::<Vec<_>>().into_iter();
        let mut in_flight = 0;
        'link: while !unacked.is_empty() {
            while in_flight < WINDOW {
                let Some(n) = to_send.next() else { break };
                let content = json!([{"type": "ping", "seq": n, "rtt": 0.042}]);
                if socket
                    .send(result_frame(&operation, n, content))
                    .await
                    .is_err()
                {
                    break 'link;
                }
                in_flight += 1;
            }
            let frame = tokio::time::timeout(Duration::from_secs(20), socket.next()).await;
            let text = match frame {
                Ok(Some(Ok(Message::Text(text)))) => text,
                Ok(Some(Ok(_))) => continue,
                _ => break 'link,
            };
            match ServerMessage::decode(&text) {
                Ok(ServerMessage::ResultAck(ack)) => {
                    let n: usize = ack.unique_code["result-".len()..].parse().unwrap();
                    if unacked.remove(&n) {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    in_flight -= 1;
                }
                // Not stored (e.g. store_unavailable): sent again on the next link.
                Ok(ServerMessage::Error(_)) => in_flight -= 1,
                _ => {}
            }
            if in_flight == 0 && to_send.len() == 0 {
                break 'link;
            }
        }
    }
}

/// Operations acknowledged with 201 by a server killed while `clients` created them.
pub struct Created {
    /// Their ids.
    pub acknowledged: Vec<String>,
}

/// With a probe of `token`'s user connected to `server`, `clients` concurrent clients create
/// one-credit ping operations (`params`) on it; once `before_kill` were created the server is
/// killed (SIGKILL) and restarted on the same data. Returns when it answers again.
pub async fn create_through_a_kill(
    server: &mut Server,
    token: &str,
    clients: usize,
    before_kill: usize,
    params: Value,
) -> Created {
    let (probe, probe_token) = server.client().register_probe(token).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url(&probe_token))
        .await
        .unwrap();
    socket.send(hello_frame()).await.unwrap();
    socket.next().await.unwrap().unwrap(); // welcome: the probe is connected
                                           // Keep reading, so that operation frames never pile up in the probe's queue.
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = socket.next().await {} });

    let created = Arc::new(AtomicUsize::new(0));
    let body = json!({"probes": [probe], "params": params});
    let base = format!("http://127.0.0.1:{}", server.port);
    let creators: Vec<_> = (0..clients)
        .map(|_| {
            let (base, token) = (base.clone(), token.to_string());
            tokio::spawn(create_until_refused(
                base,
                token,
                body.clone(),
                created.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while created.load(Ordering::SeqCst) < before_kill {
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
    assert!(acknowledged.len() >= before_kill);
    Created { acknowledged }
}

/// POSTs `body` to /ping until the server stops answering 201; the ids it acknowledged.
async fn create_until_refused(
    base: String,
    token: String,
    body: Value,
    created: Arc<AtomicUsize>,
) -> Vec<String> {
    let client = reqwest::Client::new();
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

impl Created {
    /// Asserts that `token`'s user, granted `granted` credits, paid exactly for the operations
    /// it holds, and holds every operation acknowledged.
    pub async fn assert_every_debit_has_its_operation(
        &self,
        server: &Server,
        token: &str,
        granted: u64,
    ) {
        let client = server.client();
        let me: Value = client.get_ok("/users/me", Some(token)).await;
        let mine: Value = client.get_ok("/operations/me", Some(token)).await;
        let operations = mine.as_array().unwrap();
        let debited: u64 = operations
            .iter()
            .map(|op| op["credits"].as_u64().unwrap())
            .sum();
        assert_eq!(
            me["credits"].as_u64().unwrap() + debited,
            granted,
            "every debit has its operation and every operation its debit"
        );
        let stored: BTreeSet<&str> = operations
            .iter()
            .map(|op| op["_id"].as_str().unwrap())
            .collect();
        for id in &self.acknowledged {
            assert!(
                stored.contains(id.as_str()),
                "operation {id} was acknowledged with 201 but is gone"
            );
        }
    }
}
