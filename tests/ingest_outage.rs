//! Ingest while MongoDB is down: results are not acked (the probe keeps them and is told
//! `store_unavailable`), REST answers 503, the server keeps running; once the database is
//! back, the probe's re-sent results are stored and every result exists exactly once.

#[path = "common/mongo.rs"]
mod mongo;

use chrono::Utc;
use futures::{SinkExt, StreamExt};
use pladmed::config::{Settings, StorageSettings};
use pladmed::startup::Application;
use probe_protocol::{
    error_code, ContentFormat, Hello, ProbeMessage, ResultReport, ServerMessage, PROTOCOL_VERSION,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "Secret#123";
const WAIT: Duration = Duration::from_secs(30);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Server {
    base: String,
    client: reqwest::Client,
    store: std::sync::Arc<dyn pladmed::store::Store>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    async fn start(uri: String) -> Server {
        let mut settings = Settings::for_local_test(std::env::temp_dir());
        settings.storage = StorageSettings::Mongo {
            uri,
            database: mongo::unique_db_name("ingest_outage"),
        };
        settings.jwt_secret = Some("ingest-outage-secret-ingest-outage".into());
        let app = Application::build(settings).await.expect("server starts");
        let base = format!("http://{}", app.local_addr());
        let store = app.store();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Server {
            base,
            client: reqwest::Client::new(),
            store,
            _stop: stop,
        }
    }

    async fn call(&self, post: Option<Value>, path: &str, token: Option<&str>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut request = match &post {
            Some(body) => self.client.post(url).json(body),
            None => self.client.get(url),
        };
        if let Some(token) = token {
            request = request.header("access_token", token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

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
    let server = Server::start(database.uri()).await;
    let hashing = pladmed::accounts::PasswordHashing::new(1);
    pladmed::accounts::register(
        server.store.as_ref(),
        &hashing,
        "root@example.org",
        PASSWORD,
        true,
    )
    .await
    .unwrap();
    let login = json!({"email": "root@example.org", "password": PASSWORD});
    let (_, token) = server.call(Some(login), "/login", None).await;
    let token = token["access_token"].as_str().unwrap().to_string();
    let (_, me) = server.call(None, "/users/me", Some(&token)).await;
    let grant = json!({"id": me["_id"], "credits": 1000});
    server.call(Some(grant), "/credits", Some(&token)).await;
    let location = json!({"location": {"latitude": 1.0, "longitude": 2.0}});
    let (status, probe) = server.call(Some(location), "/probes", Some(&token)).await;
    assert_eq!(status, 201, "{probe}");
    let url = format!(
        "{}/probe/ws?token={}",
        server.base.replace("http", "ws"),
        probe["token"].as_str().unwrap()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = ProbeMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        agent: "outage-test".into(),
        total_credits: 1000,
        in_use_credits: 0,
        clock_offset_ms: None,
    });
    socket.send(Message::text(hello.encode())).await.unwrap();
    assert!(matches!(
        next_message(&mut socket).await,
        ServerMessage::Welcome(_)
    ));
    let stop_time = (Utc::now() + chrono::Duration::minutes(10)).format("%d/%m/%Y %H:%M");
    let ping = json!({"probes": [probe["identifier"]], "params": {"cron": "* * * * *",
        "stop_time": stop_time.to_string(), "times_per_minute": 1, "ips": ["127.0.0.1"]}});
    let (status, operation) = server.call(Some(ping), "/ping", Some(&token)).await;
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
    let (status, body) = server.call(None, "/probes", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["Error"].as_str().unwrap().contains("unavailable"));
    let (status, _) = server.call(None, "/healthz", None).await;
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
    let (status, page) = server
        .call(
            None,
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
