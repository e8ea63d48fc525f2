//! The real server in-process, on port 0 (or a chosen address, to restart it), with an
//! embedded store unless the settings say otherwise, driven through its REST API and probe link.

use crate::client::{Account, Client};
use crate::probe::TestProbe;
use crate::wait::eventually;
use crate::{JWT_SECRET, PASSWORD};
use pladmed::config::Settings;
use pladmed::startup::Application;
use pladmed::store::Store;
use probe_protocol::ServerMessage;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// A running server; its REST calls are those of its [`Client`] (`app.get`, `app.login`, …).
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    api: Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

/// A server on a fresh embedded store.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server on a fresh embedded store, with settings adjusted by `tweak`.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start_with(&dir.path().join("data"), tweak).await;
    app._dir = Some(dir);
    app
}

impl Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.api
    }
}

impl TestApp {
    /// Starts on a free port with its embedded store in `data`.
    pub async fn start(data: &Path) -> Self {
        Self::start_with(data, |_| {}).await
    }

    /// Starts on `bind` (the address of a stopped server, to restart it) with its store in
    /// `data`.
    pub async fn start_on(data: &Path, bind: SocketAddr) -> Self {
        Self::start_with(data, |settings| settings.bind = bind).await
    }

    /// Starts on a free port with its store in `data` and the test settings as `configure`
    /// leaves them.
    pub async fn start_with(data: &Path, configure: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Settings::for_local_test(data.to_path_buf());
        settings.jwt_secret = Some(JWT_SECRET.into());
        configure(&mut settings);
        let app = Application::build(settings).await.expect("server starts");
        let addr = app.local_addr();
        let store = app.store();
        let (tx, rx) = oneshot::channel();
        let server = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        let api = Client::new(format!("http://{addr}"));
        TestApp {
            addr,
            client: api.http.clone(),
            store,
            api,
            shutdown: Some(tx),
            server: Some(server),
            _dir: None,
        }
    }

    /// The REST client of this server.
    pub fn api(&self) -> &Client {
        &self.api
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

    /// A user holding `credits`, granted by a superuser of its own (`admin-{email}`).
    pub async fn funded_user(&self, email: &str, credits: u64) -> Account {
        let user = self.user(email).await;
        let admin = self.superuser(&format!("admin-{email}")).await;
        self.grant(&admin.token, &user.id, credits).await;
        user
    }

    /// Registers a probe for `owner`; returns (identifier, token).
    pub async fn probe(&self, owner: &Account) -> (String, String) {
        self.register_probe(&owner.token).await
    }

    /// Opens the probe link with `token` (no hello yet).
    pub async fn open_link(&self, token: &str) -> TestProbe {
        TestProbe::open(self.addr, token).await
    }

    /// Connects a probe, says hello with `total_credits` and reads the welcome.
    pub async fn connect(&self, token: &str, total_credits: u64) -> TestProbe {
        self.open_link(token).await.welcomed(total_credits).await
    }

    /// Creates a ping of `probe`, whose link is `link`, and checks that the link carries it;
    /// returns the operation's identifier.
    pub async fn ping_over(
        &self,
        token: &str,
        probe: &str,
        params: Value,
        link: &mut TestProbe,
    ) -> String {
        let operation = self.create_ping(token, probe, params).await;
        let id = operation["_id"].as_str().unwrap().to_string();
        match link.recv().await {
            ServerMessage::Operation(order) => assert_eq!(order.operation_id, id),
            other => panic!("expected the operation, got {other:?}"),
        }
        id
    }

    /// Waits until the probe is connected.
    pub async fn wait_connected(&self, probe: &str) {
        eventually("the probe to connect", 20, || async {
            (self.probe_view(probe).await["connected"] == true).then_some(())
        })
        .await
    }

    /// Creates an operation of `kind` on `probe` with `params`, results in `format`; returns
    /// its identifier.
    pub async fn create_on(
        &self,
        user: &str,
        kind: &str,
        probe: &str,
        params: Value,
        format: &str,
    ) -> String {
        let body = json!({"params": params, "result_format": format});
        self.api.create(user, kind, &[probe], body).await
    }

    /// GET /operation?id=: the operation with every one of its results.
    pub async fn operation(&self, id: &str) -> Value {
        self.get_ok(&format!("/operation?id={id}"), None).await
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

    /// Stops the server gracefully (probe links are closed with 1001) and waits until the
    /// port is free.
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
