//! A real coordinator in-process, the real probe binary as a child process, and the tools.

use pladmed::config::Settings;
use pladmed::startup::Application;
use pladmed::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Fixed, so that probe tokens stay valid across a coordinator restart.
const JWT_SECRET: &str = "probe-tests-secret-probe-tests-secret";
const PASSWORD: &str = "Secret#123";
/// Set to 1 to skip (loudly) the tests that need scamper's raw sockets.
pub const NO_RAW_SOCKETS: &str = "PLADMED_TEST_NO_RAW_SOCKETS";

/// A coordinator serving on a real port, with its embedded store in `data`.
pub struct Coordinator {
    pub addr: SocketAddr,
    store: Arc<dyn Store>,
    client: reqwest::Client,
    shutdown: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Coordinator {
    /// Starts on a free port.
    pub async fn start(data: &Path) -> Self {
        Self::start_on(data, "127.0.0.1:0".parse().unwrap()).await
    }

    /// Starts on `bind` (the same address as a stopped coordinator, to restart it).
    pub async fn start_on(data: &Path, bind: SocketAddr) -> Self {
        let mut settings = Settings::for_local_test(data.to_path_buf());
        settings.jwt_secret = Some(JWT_SECRET.into());
        settings.bind = bind;
        let app = Application::build(settings)
            .await
            .expect("coordinator starts");
        let (shutdown, stopped) = oneshot::channel();
        Self {
            addr: app.local_addr(),
            store: app.store(),
            client: reqwest::Client::new(),
            shutdown,
            server: tokio::spawn(app.run_until(async {
                let _ = stopped.await;
            })),
        }
    }

    /// Stops gracefully (probe links are closed with 1001) and waits until the port is free.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        tokio::time::timeout(Duration::from_secs(30), self.server)
            .await
            .expect("coordinator stops")
            .unwrap();
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.url()));
        if let Some(token) = token {
            request = request.header("access_token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("coordinator answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn login(&self, email: &str) -> String {
        let (status, body) = self
            .post(
                "/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// A user holding `credits`; returns its access token.
    pub async fn funded_user(&self, email: &str, credits: u64) -> String {
        let (status, user) = self
            .post(
                "/register",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let admin_email = format!("admin-{email}");
        pladmed::accounts::register(self.store.as_ref(), &admin_email, PASSWORD, true)
            .await
            .unwrap();
        let admin = self.login(&admin_email).await;
        let grant = json!({"id": user["_id"], "credits": credits});
        let (status, body) = self.post("/credits", Some(&admin), grant).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.login(email).await
    }

    /// Registers a probe of the user; returns its identifier and token.
    pub async fn register_probe(&self, user: &str) -> (String, String) {
        let location = json!({"location": {"latitude": -34.6, "longitude": -58.5}});
        let (status, body) = self.post("/probes", Some(user), location).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["identifier"].as_str().unwrap().to_string(),
            body["token"].as_str().unwrap().to_string(),
        )
    }

    /// Waits until the probe is connected.
    pub async fn wait_connected(&self, probe: &str) {
        eventually("the probe to connect", 20, || async {
            let probes = self.get("/probes").await;
            let connected = probes
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["identifier"] == probe && p["connected"] == true);
            connected.then_some(())
        })
        .await
    }

    /// Creates an operation of `kind` on `probe`; returns its identifier.
    pub async fn create(
        &self,
        user: &str,
        kind: &str,
        probe: &str,
        params: Value,
        format: &str,
    ) -> String {
        let body = json!({"probes": [probe], "params": params, "result_format": format});
        let (status, operation) = self.post(&format!("/{kind}"), Some(user), body).await;
        assert_eq!(status, StatusCode::CREATED, "{operation}");
        operation["_id"].as_str().unwrap().to_string()
    }

    /// GET /operation?id=: the operation with its first page of results.
    pub async fn operation(&self, id: &str) -> Value {
        self.get(&format!("/operation?id={id}")).await
    }

    /// Every result of the operation, through all pages.
    pub async fn all_results(&self, id: &str) -> Vec<Value> {
        let mut results = Vec::new();
        let mut path = format!("/operations/{id}/results?limit=1000");
        loop {
            let page = self.get(&path).await;
            results.extend(page["results"].as_array().unwrap().iter().cloned());
            match page["next"].as_str() {
                Some(next) => path = format!("/operations/{id}/results?limit=1000&after={next}"),
                None => return results,
            }
        }
    }
}

/// A coordinator on a fresh store in `dir/data`, with a funded owner and a registered probe:
/// (coordinator, owner's access token, probe identifier, probe token).
pub async fn coordinator_with_probe(dir: &Path) -> (Coordinator, String, String, String) {
    let coordinator = Coordinator::start(&dir.join("data")).await;
    let user = coordinator
        .funded_user("owner@example.org", 1_000_000)
        .await;
    let (probe_id, token) = coordinator.register_probe(&user).await;
    (coordinator, user, probe_id, token)
}

/// Parameters running every second (the minute in progress included) for a few minutes,
/// plus `extra`.
pub fn every_second(extra: Value) -> Value {
    let mut params =
        json!({"cron": "* * * * *", "stop_time": stop_time_in(5), "times_per_minute": 60});
    params
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    params
}

/// The unique codes of `results`, asserting that none appears twice.
pub fn unique_codes(results: &[Value]) -> HashSet<String> {
    let codes: Vec<String> = results
        .iter()
        .map(|r| r["unique_code"].as_str().unwrap().to_string())
        .collect();
    let set: HashSet<String> = codes.iter().cloned().collect();
    assert_eq!(set.len(), codes.len(), "a result was stored twice");
    set
}

/// A `stop_time` `minutes` from now.
fn stop_time_in(minutes: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::minutes(minutes))
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// The `pladmed-probe` binary running against a coordinator.
pub struct ProbeProcess {
    child: tokio::process::Child,
    pub state_dir: PathBuf,
    log: PathBuf,
}

impl ProbeProcess {
    /// Starts the probe with its token in `dir/probe.token`, its state in `dir/state` and its
    /// log in `dir/probe-N.log`; `extra` arguments are appended.
    pub fn spawn(dir: &Path, server: SocketAddr, token: &str, extra: &[String]) -> Self {
        let token_file = dir.join("probe.token");
        std::fs::write(&token_file, token).unwrap();
        let state_dir = dir.join("state");
        let log = (0..)
            .map(|n| dir.join(format!("probe-{n}.log")))
            .find(|path| !path.exists())
            .unwrap();
        let output = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pladmed-probe"))
            .arg("--server")
            .arg(format!("http://{server}"))
            .arg("--token-file")
            .arg(&token_file)
            .arg("--state-dir")
            .arg(&state_dir)
            .args(["--credits", "1000000", "--no-ntp", "--max-reconnect-s", "1"])
            .args(extra)
            .env("PLADMED_PROBE_LOG", "info,pladmed_probe=debug")
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .kill_on_drop(true)
            .spawn()
            .expect("the probe binary starts");
        Self {
            child,
            state_dir,
            log,
        }
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the process to exit; returns whether it succeeded.
    pub async fn exit_success(&mut self) -> bool {
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the probe exits")
            .unwrap()
            .success()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The unique codes of the results waiting in the probe's outbox.
    pub fn outbox_codes(&self) -> HashSet<String> {
        let Ok(entries) = std::fs::read_dir(self.state_dir.join("outbox")) else {
            return HashSet::new();
        };
        // Only complete records: a temporary file a kill left behind is not a result.
        entries
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                if path.extension()? != "json" {
                    return None;
                }
                let bytes = std::fs::read(path).ok()?;
                let report: Value = serde_json::from_slice(&bytes).ok()?;
                Some(report["unique_code"].as_str()?.to_string())
            })
            .collect()
    }
}

impl Drop for ProbeProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- probe log {} ----\n{}", self.log.display(), self.log());
        }
    }
}

/// Polls `check` every 100 ms until it gives a value, failing after `seconds`.
pub async fn eventually<T, F, Fut>(what: &str, seconds: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {seconds} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether scamper can measure here. It needs raw sockets (root or CAP_NET_RAW); without them
/// the tests that need it fail with this explanation, unless PLADMED_TEST_NO_RAW_SOCKETS=1 is
/// set, in which case they are skipped with a notice, never silently.
pub fn scamper_can_measure() -> bool {
    if std::env::var(NO_RAW_SOCKETS).as_deref() == Ok("1") {
        eprintln!("SKIPPED: {NO_RAW_SOCKETS}=1, scamper measurements are not tested");
        return false;
    }
    let ping = std::process::Command::new("scamper")
        .args(["-O", "json", "-c", "ping -c 1", "-i", "127.0.0.1"])
        .output();
    let advice = format!(
        "install scamper (apt-get install scamper) and run as root or with CAP_NET_RAW, \
         or set {NO_RAW_SOCKETS}=1 to skip these tests"
    );
    let output = ping.unwrap_or_else(|e| panic!("scamper cannot be run ({e}): {advice}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("\"replies\":1"),
        "scamper cannot ping 127.0.0.1 (raw sockets?): {advice}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    true
}

/// dig must be installed (bind9-dnsutils).
pub fn require_dig() {
    let version = std::process::Command::new("dig").arg("-v").output();
    assert!(
        version.is_ok_and(|o| o.status.success()),
        "dig is not installed: apt-get install bind9-dnsutils"
    );
}
