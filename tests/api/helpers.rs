//! Starting a real server on port 0 and talking to it like the frontend and a probe do.

use chrono::{Duration as ChronoDuration, Utc};
use futures::{SinkExt, StreamExt};
use pladmed::config::Settings;
use pladmed::startup::Application;
use pladmed::store::Store;
use probe_protocol::{Hello, ProbeMessage, ServerMessage, PROTOCOL_VERSION};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for any single frame or reply.
pub const WAIT: Duration = Duration::from_secs(10);

pub const PASSWORD: &str = "Secret#123";

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// A server on a fresh embedded store.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server on a fresh embedded store, with settings adjusted by `tweak`.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_local_test(dir.path().join("data"));
    settings.jwt_secret = Some("test-secret-test-secret-test-secret".into());
    tweak(&mut settings);
    let app = Application::build(settings).await.expect("server starts");
    let addr = app.local_addr();
    let store = app.store();
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        store,
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
    }
}

/// A user's token and id.
pub struct Account {
    pub token: String,
    pub id: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with an optional `access_token` and JSON body; returns status and JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.header("access_token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("server answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// Logs in with the test password; returns the access token.
    pub async fn login(&self, email: &str) -> String {
        let credentials = json!({"email": email, "password": PASSWORD});
        let (status, body) = self.post("/login", None, credentials).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Registers and logs in a user.
    pub async fn user(&self, email: &str) -> Account {
        let credentials = json!({"email": email, "password": PASSWORD});
        let (status, user) = self.post("/register", None, credentials).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        Account {
            token: self.login(email).await,
            id: user["_id"].as_str().unwrap().to_string(),
        }
    }

    /// Creates a superuser directly in the store and logs in.
    pub async fn superuser(&self, email: &str) -> Account {
        let hashing = pladmed::accounts::PasswordHashing::new(1);
        let user =
            pladmed::accounts::register(self.store.as_ref(), &hashing, email, PASSWORD, true)
                .await
                .unwrap();
        Account {
            token: self.login(email).await,
            id: user.id.to_string(),
        }
    }

    /// A user holding `credits`.
    pub async fn funded_user(&self, email: &str, credits: u64) -> Account {
        let user = self.user(email).await;
        let admin = self.superuser(&format!("admin-{email}")).await;
        let (status, body) = self
            .post(
                "/credits",
                Some(&admin.token),
                json!({"id": user.id, "credits": credits}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        user
    }

    pub async fn credits_of(&self, account: &Account) -> u64 {
        let (status, me) = self.get("/users/me", Some(&account.token)).await;
        assert_eq!(status, StatusCode::OK);
        me["credits"].as_u64().unwrap()
    }

    /// Registers a probe for `owner`; returns (identifier, token).
    pub async fn probe(&self, owner: &Account) -> (String, String) {
        let (status, body) = self
            .post(
                "/probes",
                Some(&owner.token),
                json!({"location": {"latitude": -34.6, "longitude": -58.5}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["identifier"].as_str().unwrap().to_string(),
            body["token"].as_str().unwrap().to_string(),
        )
    }

    /// Opens the probe link with `token` (no hello yet).
    pub async fn open_link(&self, token: &str) -> TestProbe {
        let url = format!("ws://{}/probe/ws?token={token}", self.addr);
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket handshake");
        TestProbe { socket }
    }

    /// Connects a probe, says hello with `total_credits` and reads the welcome.
    pub async fn connect(&self, token: &str, total_credits: u64) -> TestProbe {
        let mut probe = self.open_link(token).await;
        probe.hello(total_credits).await;
        match probe.recv().await {
            ServerMessage::Welcome(_) => probe,
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(30), server)
                .await
                .expect("server stops")
                .unwrap();
        }
    }
}

/// A stop_time `minutes` from now, in the API's "dd/mm/YYYY HH:MM" form.
pub fn stop_time_in(minutes: i64) -> String {
    (Utc::now() + ChronoDuration::minutes(minutes))
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// Ping params every minute until `minutes` from now: room for `minutes` + 1 results per
/// probe at least (the server stores no more than the schedule can produce).
pub fn ping_params(minutes: i64) -> Value {
    json!({"cron": "* * * * *", "stop_time": stop_time_in(minutes), "times_per_minute": 1, "ips": ["127.0.0.1"]})
}

/// Ping params 60 times a minute until `minutes` from now: room for 60 × (`minutes` + 1)
/// results per probe at least, for about 60 × (`minutes` − 1) credits.
pub fn busy_ping_params(minutes: i64) -> Value {
    json!({"cron": "* * * * *", "stop_time": stop_time_in(minutes), "times_per_minute": 60, "ips": ["127.0.0.1"]})
}

pub struct TestProbe {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl TestProbe {
    pub async fn hello(&mut self, total_credits: u64) {
        self.send(&ProbeMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            agent: "pladmed-tests".into(),
            total_credits,
            in_use_credits: 0,
            clock_offset_ms: Some(0.5),
        }))
        .await;
    }

    pub async fn send(&mut self, message: &ProbeMessage) {
        self.send_raw(Message::text(message.encode())).await;
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("frame sent");
    }

    /// The next protocol message (control frames skipped).
    pub async fn recv(&mut self) -> ServerMessage {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a frame within the wait")
                .expect("link open")
                .expect("frame readable");
            match frame {
                Message::Text(text) => {
                    return ServerMessage::decode(&text).expect("protocol message")
                }
                Message::Close(close) => panic!("link closed: {close:?}"),
                _ => continue,
            }
        }
    }

    /// Waits for the server to close the link; returns the close code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("close within the wait");
            match frame {
                Some(Ok(Message::Close(Some(close)))) => {
                    return (u16::from(close.code), close.reason.to_string())
                }
                Some(Ok(Message::Close(None))) => {
                    return (u16::from(CloseCode::Status), String::new())
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("link failed without a close frame: {e}"),
                None => panic!("link ended without a close frame"),
            }
        }
    }
}
