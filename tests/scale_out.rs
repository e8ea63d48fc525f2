//! Several instances behind one load balancer, sharing MongoDB and a Redis-backed hub
//! (`PLADMED_REDIS_URL`): any instance takes REST calls and probe links, an operation created on
//! one reaches the probes linked to the others through one publish, presence reads the same
//! everywhere, a newer link elsewhere closes the older one with 4003, and a Redis outage loses
//! no operation. Needs MongoDB (`PLADMED_TEST_MONGODB_URI`) and `redis-server`.

use probe_protocol::close;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use testkit::cluster::{close_code, link, next_order, Cluster};
use testkit::process::Server;

const SOON: Duration = Duration::from_secs(10);

/// Creates a ping of `probes` on `server` and returns its id.
async fn ping(server: &Server, token: &str, probes: &[&str]) -> String {
    let params = testkit::ping_params(30);
    let body = json!({"probes": probes, "params": params});
    let operation = server.client().post_ok("/ping", Some(token), body).await;
    operation["_id"].as_str().unwrap().to_string()
}

/// How many PUBLISH commands Redis has run (`INFO commandstats`), over a raw connection.
fn publishes(port: u16) -> u64 {
    let mut redis = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    redis
        .write_all(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")
        .unwrap();
    redis
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    while !String::from_utf8_lossy(&answer).ends_with("\r\n\r\n") {
        let n = redis.read(&mut buffer).unwrap();
        assert!(n > 0, "redis closed the connection");
        answer.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    text.lines()
        .find_map(|line| line.strip_prefix("cmdstat_publish:calls="))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

/// Whether every probe of `ids` shows as connected in GET /probes of `server`, with the credits
/// and clock offset of its hello, within a few seconds (the list is cached for at most a
/// second).
async fn all_connected(client: &reqwest::Client, server: &Server, ids: &[&str]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let probes: Value = client
            .get(server.url("/probes"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let connected = |id: &str| {
            probes.as_array().unwrap().iter().any(|p| {
                p["identifier"] == id
                    && p["connected"] == true
                    && p["availability"].as_f64() > Some(0.0)
                    && p["total_credits"] == testkit::cluster::TOTAL_CREDITS
                    && p["clock_offset_ms"] == testkit::cluster::CLOCK_OFFSET_MS
            })
        };
        if ids.iter().all(|id| connected(id)) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_operation_created_on_one_instance_reaches_the_probes_of_all_with_one_publish() {
    let Some(cluster) = Cluster::start(3, &[]).await else {
        return;
    };
    let (a, b, c) = (cluster.server(0), cluster.server(1), cluster.server(2));
    let client = reqwest::Client::new();
    let token = a
        .client()
        .funded_by_root("user@example.org", 100_000)
        .await
        .token;
    let mut links = Vec::new();
    let mut ids = Vec::new();
    for server in [a, b, c] {
        let (id, probe_token) = a.client().register_probe(&token).await;
        links.push(link(server, &probe_token).await);
        ids.push(id);
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    for server in [a, b, c] {
        assert!(
            all_connected(&client, server, &ids).await,
            "every instance lists every probe as connected and available"
        );
    }

    let before = publishes(cluster.redis.port);
    let operation = ping(a, &token, &ids).await;
    for (n, socket) in links.iter_mut().enumerate() {
        let order = next_order(socket, SOON).await;
        let order = order.unwrap_or_else(|| panic!("the probe on instance {n} got no order"));
        assert_eq!(order.operation_id, operation);
    }
    assert_eq!(
        publishes(cluster.redis.port) - before,
        1,
        "one publish for the operation, whatever the number of probes"
    );
}

#[tokio::test]
async fn a_newer_link_on_another_instance_closes_the_older_with_4003() {
    let Some(cluster) = Cluster::start(3, &[]).await else {
        return;
    };
    let (a, b, c) = (cluster.server(0), cluster.server(1), cluster.server(2));
    let (token, id, probe_token) = owner_with_probe(a).await;
    let mut older = link(a, &probe_token).await;
    let mut newer = link(b, &probe_token).await;
    // Well before the link audit (one heartbeat, 20 s) would notice.
    assert_eq!(
        close_code(&mut older, Duration::from_secs(5)).await,
        Some(4003)
    );

    let operation = ping(c, &token, &[&id]).await;
    let order = next_order(&mut newer, SOON)
        .await
        .expect("the newer link stays");
    assert_eq!(order.operation_id, operation);
}

/// A funded user's token, and a probe of that user registered on `server`: (token, probe id,
/// probe token).
async fn owner_with_probe(server: &Server) -> (String, String, String) {
    let token = server
        .client()
        .funded_by_root("user@example.org", 100_000)
        .await
        .token;
    let (id, probe_token) = server.client().register_probe(&token).await;
    (token, id, probe_token)
}

/// Revoking a probe's tokens, or removing it, on one instance closes its link on another at
/// once (4001), not at that instance's next link audit (one heartbeat, 20 s).
#[tokio::test]
async fn revoking_or_removing_on_one_instance_closes_the_link_on_another() {
    let Some(cluster) = Cluster::start(2, &[]).await else {
        return;
    };
    let (a, b) = (cluster.server(0), cluster.server(1));
    let (token, id, probe_token) = owner_with_probe(a).await;
    let mut socket = link(b, &probe_token).await;
    let (status, _) = a
        .client()
        .call(
            Method::POST,
            &format!("/probes/{id}/token"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        close_code(&mut socket, Duration::from_secs(5)).await,
        Some(close::UNAUTHORIZED)
    );

    let (id, probe_token) = a.client().register_probe(&token).await;
    let mut socket = link(b, &probe_token).await;
    let (status, _) = a
        .client()
        .call(Method::DELETE, &format!("/probes/{id}"), Some(&token), None)
        .await;
    assert!(status.is_success(), "{status}");
    assert_eq!(
        close_code(&mut socket, Duration::from_secs(5)).await,
        Some(close::UNAUTHORIZED)
    );
}

/// GET /health of `server`: its status code and whether the hub is up.
async fn hub_health(client: &reqwest::Client, server: &Server) -> (u16, bool) {
    let response = client.get(server.url("/health")).send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["status"][0]["hub"] == true)
}

/// Waits until the hub of `server` is `up` (or down) in GET /health; returns the status code.
async fn hub_becomes(client: &reqwest::Client, server: &Server, up: bool) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, hub) = hub_health(client, server).await;
        if hub == up {
            return status;
        }
        assert!(Instant::now() < deadline, "hub never became up={up}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn operations_created_while_redis_is_down_are_delivered_when_it_is_back() {
    let Some(mut cluster) = Cluster::start(2, &[]).await else {
        return;
    };
    let client = reqwest::Client::new();
    let (a, b) = (cluster.server(0), cluster.server(1));
    let (token, id, probe_token) = owner_with_probe(a).await;
    let mut socket = link(b, &probe_token).await;
    hub_becomes(&client, a, true).await;

    cluster.redis.kill();
    let (a, b) = (cluster.server(0), cluster.server(1));
    assert_eq!(hub_becomes(&client, a, false).await, 503);
    assert_eq!(hub_becomes(&client, b, false).await, 503);
    let during = ping(a, &token, &[&id]).await;

    cluster.redis.restart();
    let (a, b) = (cluster.server(0), cluster.server(1));
    let order = next_order(&mut socket, Duration::from_secs(20))
        .await
        .expect("the operation created during the outage arrives once redis is back");
    assert_eq!(order.operation_id, during);
    hub_becomes(&client, a, true).await;
    hub_becomes(&client, b, true).await;
    let after = ping(a, &token, &[&id]).await;
    // The operation of the outage may come twice (re-sent from the store by B, and published
    // by A once reconnected): a probe ignores an operation it already has.
    loop {
        let order = next_order(&mut socket, SOON)
            .await
            .expect("fan-out works again");
        if order.operation_id == after {
            break;
        }
        assert_eq!(order.operation_id, during);
    }
}

#[test]
fn a_redis_url_without_mongodb_or_malformed_fails_startup_naming_the_variable() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap().to_string();
    for (env, why) in [
        (vec![], "requires PLADMED_MONGODB_URI"),
        (
            vec![("PLADMED_MONGODB_URI", "mongodb://127.0.0.1:1")],
            "is not a redis:// URL",
        ),
    ] {
        let url = if env.is_empty() {
            "redis://127.0.0.1:6379"
        } else {
            "http://:secret-password@example.org"
        };
        let env: Vec<(String, String)> = env
            .into_iter()
            .chain([("PLADMED_REDIS_URL", url), ("PLADMED_DATA_DIR", &data_dir)])
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let output = Server::command(&env).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains("PLADMED_REDIS_URL"), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
        assert!(!stderr.contains("secret-password"), "{stderr}");
    }
}

/// GET /operations/{id}/stream on one instance carries the results another instance took in,
/// and a client that drops resumes on the other instance with `Last-Event-ID`, no gap, no
/// repeat: streams read the shared store, not their instance's links.
#[tokio::test]
async fn a_stream_carries_results_taken_in_elsewhere_and_resumes_on_another_instance() {
    use futures::SinkExt;
    use probe_protocol::{Finished, ProbeMessage, ServerMessage};
    use testkit::cluster::next_message;
    use testkit::sse;
    use tokio_tungstenite::tungstenite::Message;

    let Some(cluster) = Cluster::start(2, &[]).await else {
        return;
    };
    let (a, b) = (cluster.server(0), cluster.server(1));
    let client = reqwest::Client::new();
    let (token, id, probe_token) = owner_with_probe(a).await;
    let mut socket = link(b, &probe_token).await;
    assert!(all_connected(&client, a, &[&id]).await);
    let operation = ping(a, &token, &[&id]).await;
    next_order(&mut socket, SOON).await.expect("the order");

    let (base_a, base_b) = (format!("http://{}", a.addr), format!("http://{}", b.addr));
    let mut stream = sse::open(&client, &base_a, &operation, None).await.unwrap();
    for n in 0..4 {
        let frame = testkit::probe::result_frame(&operation, n, json!({"rtt": n}));
        socket.send(frame).await.unwrap();
    }
    let mut acked = 0;
    while acked < 4 {
        match next_message(&mut socket, SOON).await {
            Some(ServerMessage::ResultAck(_)) => acked += 1,
            Some(_) => {}
            None => panic!("no ack"),
        }
    }
    let mut ids = Vec::new();
    while ids.len() < 2 {
        let event = stream.next_within(Duration::from_secs(20)).await.unwrap();
        if event.name == "result" {
            ids.push(event.id.unwrap());
        }
    }
    drop(stream);

    let mut resumed = sse::open(&client, &base_b, &operation, Some(&ids[1]))
        .await
        .unwrap();
    let finished = ProbeMessage::Finished(Finished {
        operation_id: operation.clone(),
    });
    socket.send(Message::text(finished.encode())).await.unwrap();
    let rest = resumed.until_end().await;
    ids.extend(
        rest.iter()
            .filter(|e| e.name == "result")
            .map(|e| e.id.clone().unwrap()),
    );
    let stored: Vec<String> = a
        .client()
        .all_results(&operation)
        .await
        .iter()
        .map(|r| r["_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored.len(), 4);
    assert_eq!(ids, stored, "no gap, no repeat, across instances");
    assert_eq!(rest.last().unwrap().data["reason"], "finished");
}
