//! A real coordinator in-process, on an embedded store, driven through its REST API.

use crate::helpers::eventually;
use pladmed::config::Settings;
use pladmed::startup::Application;
use pladmed::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Fixed, so that probe tokens stay valid across a coordinator restart.
const JWT_SECRET: &str = "probe-tests-secret-probe-tests-secret";
const PASSWORD: &str = "Secret#123";

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
        Self::start_with(data, |_| {}).await
    }

    /// Starts on `bind` (the same address as a stopped coordinator, to restart it).
    pub async fn start_on(data: &Path, bind: SocketAddr) -> Self {
        Self::start_with(data, |settings| settings.bind = bind).await
    }

    /// Starts on a free port with the test settings as `configure` leaves them.
    pub async fn start_with(data: &Path, configure: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Settings::for_local_test(data.to_path_buf());
        settings.jwt_secret = Some(JWT_SECRET.into());
        configure(&mut settings);
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
        let hashing = pladmed::accounts::PasswordHashing::new(1);
        pladmed::accounts::register(self.store.as_ref(), &hashing, &admin_email, PASSWORD, true)
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

    /// The probe as GET /probes shows it (`connected`, `availability`, `clock_offset_ms`, …).
    pub async fn probe_view(&self, probe: &str) -> Value {
        let probes = self.get("/probes").await;
        let view = probes
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["identifier"] == probe);
        view.cloned()
            .unwrap_or_else(|| panic!("GET /probes does not list {probe}: {probes}"))
    }

    /// Waits until the probe is connected.
    pub async fn wait_connected(&self, probe: &str) {
        eventually("the probe to connect", 20, || async {
            (self.probe_view(probe).await["connected"] == true).then_some(())
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

    /// GET /operation?id=: the operation with every one of its results.
    pub async fn operation(&self, id: &str) -> Value {
        self.get(&format!("/operation?id={id}")).await
    }

    /// The first result of an operation, as GET /operation shows it, once there is one.
    pub async fn first_result(&self, operation: &str) -> Value {
        eventually(&format!("a result of {operation}"), 30, || async {
            let view = self.operation(operation).await;
            view["results"].as_array().and_then(|r| r.first().cloned())
        })
        .await
    }

    /// Waits until every code of `expected` is stored; returns every result of the operation,
    /// having checked that none was stored twice.
    pub async fn wait_stored(&self, operation: &str, expected: &HashSet<String>) -> Vec<Value> {
        eventually("every pending result to be stored", 30, || async {
            let results = self.all_results(operation).await;
            unique_codes(&results)
                .is_superset(expected)
                .then_some(results)
        })
        .await
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
