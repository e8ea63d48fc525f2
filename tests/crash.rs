//! Crash without loss: a client streams 2,000 results, re-sending until acknowledged, while the
//! server process is killed with SIGKILL mid-stream and restarted on the same data. At the end
//! exactly 2,000 results are stored, none twice, and the probe owner was paid exactly once per
//! result. Runs on the embedded store and on MongoDB.

use chrono::Utc;
use futures::{SinkExt, StreamExt};
use probe_protocol::{
    ContentFormat, Hello, ProbeMessage, ResultReport, ServerMessage, PROTOCOL_VERSION,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[path = "common/mongo.rs"]
mod mongo;

const RESULTS: usize = 2_000;
const WINDOW: usize = 32;
const KILL_AFTER_ACKS: usize = 600;
const PASSWORD: &str = "Crash#Test1";
const SECRET: &str = "crash-test-secret-crash-test-secret";

struct Server {
    child: Child,
    port: u16,
    env: Vec<(String, String)>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    fn command(env: &[(String, String)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pladmed"));
        command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("PLADMED_LOG", "warn");
        command
    }

    fn start(env: Vec<(String, String)>, port: u16) -> Server {
        let child = Self::command(&env)
            .env("PLADMED_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("server binary starts");
        Server { child, port, env }
    }

    fn kill_and_restart(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
        *self = Server::start(self.env.clone(), self.port);
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_until_up(client: &reqwest::Client, server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(server.url("/probes")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.header("access_token", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn get(client: &reqwest::Client, url: String, token: &str) -> Value {
    let response = client
        .get(url)
        .header("access_token", token)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

fn hello() -> Message {
    let hello = ProbeMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        agent: "crash-test".into(),
        total_credits: 1_000_000,
        in_use_credits: 0,
        clock_offset_ms: None,
    });
    Message::text(hello.encode())
}

fn result_frame(operation: &str, n: usize) -> Message {
    let report = ProbeMessage::Result(ResultReport {
        operation_id: operation.into(),
        unique_code: format!("result-{n:05}"),
        format: ContentFormat::Json,
        content: json!([{"type": "ping", "seq": n, "rtt": 0.042}]),
        measured_at: Utc::now(),
        error: None,
    });
    Message::text(report.encode())
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
    if socket.send(hello()).await.is_err() {
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
    let status = Server::command(&env)
        .args(["superuser", "create", "root@example.org", PASSWORD])
        .status()
        .unwrap();
    assert!(status.success(), "superuser create ({data_note})");
    let mut server = Server::start(env, free_port());
    let client = reqwest::Client::new();
    wait_until_up(&client, &server).await;

    let login = |email: &'static str| {
        let (client, url) = (client.clone(), server.url("/login"));
        async move {
            let body = post(
                &client,
                url,
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
            body["access_token"].as_str().unwrap().to_string()
        }
    };
    let user = post(
        &client,
        server.url("/register"),
        None,
        json!({"email": "user@example.org", "password": PASSWORD}),
    )
    .await;
    let root = login("root@example.org").await;
    post(
        &client,
        server.url("/credits"),
        Some(&root),
        json!({"id": user["_id"], "credits": 1000}),
    )
    .await;
    let token = login("user@example.org").await;
    let probe = post(
        &client,
        server.url("/probes"),
        Some(&token),
        json!({"location": {"latitude": 1, "longitude": 2}}),
    )
    .await;
    let probe_token = probe["token"].as_str().unwrap().to_string();
    let ws_url = format!(
        "ws://127.0.0.1:{}/probe/ws?token={probe_token}",
        server.port
    );

    // Connect once so that the probe is available, then create the operation.
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    socket.send(hello()).await.unwrap();
    socket.next().await.unwrap().unwrap();
    let stop = (Utc::now() + chrono::Duration::minutes(30))
        .format("%d/%m/%Y %H:%M")
        .to_string();
    let params = json!({"cron": "0 0 1 1 *", "stop_time": stop, "times_per_minute": 1, "ips": ["127.0.0.1"]});
    let operation = post(
        &client,
        server.url("/ping"),
        Some(&token),
        json!({"probes": [probe["identifier"]], "params": params}),
    )
    .await;
    let operation = operation["_id"].as_str().unwrap().to_string();
    drop(socket);

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
    wait_until_up(&client, &server).await;
    streamer.await.expect("every result acknowledged");

    let mut codes = Vec::new();
    let mut path = format!("/operations/{operation}/results?limit=1000");
    loop {
        let page: Value = client
            .get(server.url(&path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        codes.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["unique_code"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(cursor) => {
                path = format!("/operations/{operation}/results?limit=1000&after={cursor}")
            }
            None => break,
        }
    }
    let distinct: BTreeSet<&String> = codes.iter().collect();
    assert_eq!(codes.len(), RESULTS, "{data_note}: stored results");
    assert_eq!(
        distinct.len(),
        RESULTS,
        "{data_note}: a result was stored twice"
    );
    let me: Value = get(&client, server.url("/users/me"), &token).await;
    let paid = me["credits"].as_u64().unwrap();
    let spent = 1000 - 1; // one execution of a one-destination ping
    assert_eq!(
        paid,
        spent + 10 * RESULTS as u64,
        "{data_note}: rewards paid exactly once per result"
    );
}

fn base_env() -> Vec<(String, String)> {
    vec![("PLADMED_JWT_SECRET".into(), SECRET.into())]
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
    let stop = (Utc::now() + chrono::Duration::minutes(30))
        .format("%d/%m/%Y %H:%M")
        .to_string();
    let body = json!({"probes": [probe], "params": {"cron": "0 0 1 1 *", "stop_time": stop, "times_per_minute": 1, "ips": ["127.0.0.1"]}});
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
    let status = Server::command(&env)
        .args(["superuser", "create", "root@example.org", PASSWORD])
        .status()
        .unwrap();
    assert!(status.success());
    let mut server = Server::start(env, free_port());
    let client = reqwest::Client::new();
    wait_until_up(&client, &server).await;
    let credentials = |email: &str| json!({"email": email, "password": PASSWORD});
    let user = post(
        &client,
        server.url("/register"),
        None,
        credentials("buyer@example.org"),
    )
    .await;
    let root = post(
        &client,
        server.url("/login"),
        None,
        credentials("root@example.org"),
    )
    .await;
    let grant = json!({"id": user["_id"], "credits": GRANTED});
    post(
        &client,
        server.url("/credits"),
        root["access_token"].as_str(),
        grant,
    )
    .await;
    let login = post(
        &client,
        server.url("/login"),
        None,
        credentials("buyer@example.org"),
    )
    .await;
    let token = login["access_token"].as_str().unwrap().to_string();
    let location = json!({"location": {"latitude": 1, "longitude": 2}});
    let probe = post(&client, server.url("/probes"), Some(&token), location).await;
    let ws_url = format!(
        "ws://127.0.0.1:{}/probe/ws?token={}",
        server.port,
        probe["token"].as_str().unwrap()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    socket.send(hello()).await.unwrap();
    socket.next().await.unwrap().unwrap(); // welcome: the probe is connected
                                           // Keep reading so the operation frames never pile up in the probe's queue.
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = socket.next().await {} });

    let created = Arc::new(AtomicUsize::new(0));
    let base = format!("http://127.0.0.1:{}", server.port);
    let creators: Vec<_> = (0..4)
        .map(|_| {
            let id = probe["identifier"].as_str().unwrap().to_string();
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
    wait_until_up(&client, &server).await;

    let me: Value = get(&client, server.url("/users/me"), &token).await;
    let mine: Value = get(&client, server.url("/operations/me"), &token).await;
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
