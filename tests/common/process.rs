//! The real `pladmed` binary as a child process, for tests that kill it, restart it or limit
//! it, and the HTTP and WebSocket calls they make to it.
//!
//! Include with `#[path = "common/process.rs"] mod process;`.
#![allow(dead_code)] // Each test crate uses the part it needs.

use chrono::Utc;
use probe_protocol::{ContentFormat, Hello, ProbeMessage, ResultReport, PROTOCOL_VERSION};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

pub const PASSWORD: &str = "Process#Test1";
pub const SECRET: &str = "process-test-secret-process-test-secret";

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    env: Vec<(String, String)>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// The binary with `env`, logging warnings only.
    pub fn command(env: &[(String, String)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pladmed"));
        command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("PLADMED_LOG", "warn");
        command
    }

    pub fn start(env: Vec<(String, String)>, port: u16) -> Server {
        let child = Self::command(&env)
            .env("PLADMED_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("server binary starts");
        Server { child, port, env }
    }

    /// Starts the server unable to grow any file past `kib` KiB (RLIMIT_FSIZE, set by the
    /// shell's `ulimit -f`): a write past it fails as on a full disk (EFBIG rather than ENOSPC).
    /// SIGXFSZ, which such a write also raises and which would kill the process, is ignored.
    pub fn start_with_file_limit(env: Vec<(String, String)>, port: u16, kib: u64) -> Server {
        let script = format!("ulimit -f {kib} && trap '' XFSZ && exec \"$0\"");
        let child = Command::new("bash")
            .args(["-c", &script, env!("CARGO_BIN_EXE_pladmed")])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("PLADMED_LOG", "warn")
            .env("PLADMED_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("bash starts the server");
        Server { child, port, env }
    }

    /// SIGKILL, then the same server again (without limits) on the same port and data.
    pub fn kill_and_restart(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
        *self = Server::start(self.env.clone(), self.port);
    }

    /// The process id (e.g. to read its memory from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("process status").is_none()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The probe link with `token`.
    pub fn ws_url(&self, token: &str) -> String {
        format!("ws://127.0.0.1:{}/probe/ws?token={token}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn wait_until_up(client: &reqwest::Client, server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(server.url("/probes")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POSTs `body` and returns the answer's status and JSON body.
pub async fn post_raw(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.header("access_token", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// POSTs `body`, which must succeed, and returns the answer.
pub async fn post(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Value {
    let (status, body) = post_raw(client, url, token, body).await;
    assert!((200..300).contains(&status), "{status}: {body}");
    body
}

pub async fn get(client: &reqwest::Client, url: String, token: &str) -> Value {
    let response = client
        .get(url)
        .header("access_token", token)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

/// Every stored result's unique_code of `operation`, through the paginated endpoint.
pub async fn stored_codes(
    client: &reqwest::Client,
    server: &Server,
    operation: &str,
) -> Vec<String> {
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
            None => return codes,
        }
    }
}

pub fn hello() -> Message {
    let hello = ProbeMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        agent: "process-test".into(),
        total_credits: 1_000_000,
        in_use_credits: 0,
        clock_offset_ms: None,
    });
    Message::text(hello.encode())
}

/// Result number `n` of `operation`, with `content`.
pub fn result_frame(operation: &str, n: usize, content: Value) -> Message {
    let report = ProbeMessage::Result(ResultReport {
        operation_id: operation.into(),
        unique_code: format!("result-{n:05}"),
        format: ContentFormat::Json,
        content: content.into(),
        measured_at: Utc::now(),
        error: None,
    });
    Message::text(report.encode())
}

/// Creates the superuser `root@example.org` with the binary, before the server holds the data.
pub fn create_superuser(env: &[(String, String)]) {
    let status = Server::command(env)
        .args(["superuser", "create", "root@example.org", PASSWORD])
        .status()
        .unwrap();
    assert!(status.success(), "superuser create");
}

/// Registers `email`, has the superuser (see [`create_superuser`]) grant it `credits`, and
/// returns its access token.
pub async fn funded_user(
    client: &reqwest::Client,
    server: &Server,
    email: &str,
    credits: u64,
) -> String {
    let login = |email: &str| {
        let body = json!({"email": email, "password": PASSWORD});
        post(client, server.url("/login"), None, body)
    };
    let credentials = json!({"email": email, "password": PASSWORD});
    let user = post(client, server.url("/register"), None, credentials).await;
    let root = login("root@example.org").await;
    let grant = json!({"id": user["_id"], "credits": credits});
    post(
        client,
        server.url("/credits"),
        root["access_token"].as_str(),
        grant,
    )
    .await;
    let token = login(email).await;
    token["access_token"].as_str().unwrap().to_string()
}

/// A probe of the user with `token`: its identifier and its token.
pub async fn registered_probe(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
) -> (String, String) {
    let location = json!({"location": {"latitude": 1, "longitude": 2}});
    let probe = post(client, server.url("/probes"), Some(token), location).await;
    let id = probe["identifier"].as_str().unwrap().to_string();
    (id, probe["token"].as_str().unwrap().to_string())
}

/// A ping of `probe` (connected) that runs 60 times a minute until in 45 minutes: room for at
/// least 2,700 results (the server stores no more than the schedule can produce), for about
/// 2,640 credits. Returns the operation's id.
pub async fn ping_operation(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    probe: &str,
) -> String {
    let stop = (Utc::now() + chrono::Duration::minutes(45))
        .format("%d/%m/%Y %H:%M")
        .to_string();
    let params = json!({"cron": "* * * * *", "stop_time": stop, "times_per_minute": 60, "ips": ["127.0.0.1"]});
    let body = json!({"probes": [probe], "params": params});
    let operation = post(client, server.url("/ping"), Some(token), body).await;
    operation["_id"].as_str().unwrap().to_string()
}
