//! The REST calls tests make, as the frontend makes them: accounts, credits, probes,
//! operations and their results. The same client serves the in-process server
//! ([`crate::TestApp`]) and the child process ([`crate::process::Server`]).
//!
//! Calls panic with the server's answer when a step that must succeed does not: a test fails
//! there, naming the step. [`Api`] is the fallible form, for the benchmark.

use crate::process::Server;
use crate::{Error, PASSWORD, ROOT_EMAIL};
use futures::{stream, StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

/// A user's token and id.
pub struct Account {
    pub token: String,
    pub id: String,
}

/// A client of the server at `base` (`http://host:port`).
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(base: String) -> Self {
        Self {
            http: reqwest::Client::new(),
            base,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with an optional `access_token` and JSON body; returns the status and
    /// the body as JSON (a body that is not JSON as a JSON string).
    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), reqwest::Error> {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.header("access_token", token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }

    /// [`Client::try_call`], which must get an answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.try_call(method, path, token, body.as_ref())
            .await
            .expect("server answers")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// GETs `path`, which must answer 200, and returns the body.
    pub async fn get_ok(&self, path: &str, token: Option<&str>) -> Value {
        let (status, body) = self.get(path, token).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// POSTs `body`, which must succeed (2xx), and returns the answer.
    pub async fn post_ok(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let (status, answer) = self.post(path, token, body).await;
        assert!(status.is_success(), "POST {path}: {status}: {answer}");
        answer
    }

    /// POSTs `email` and `password` to `path` (`/register`, `/login`); returns the answer,
    /// whatever it is.
    pub async fn post_credentials(
        &self,
        path: &str,
        email: &str,
        password: &str,
    ) -> (StatusCode, Value) {
        let credentials = json!({"email": email, "password": password});
        self.post(path, None, credentials).await
    }

    /// Logs in with the test password; returns the access token.
    pub async fn login(&self, email: &str) -> String {
        let (status, body) = self.post_credentials("/login", email, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Registers a user with the test password; returns its id.
    pub async fn register(&self, email: &str) -> String {
        let (status, user) = self.post_credentials("/register", email, PASSWORD).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        user["_id"].as_str().unwrap().to_string()
    }

    /// Registers and logs in a user.
    pub async fn user(&self, email: &str) -> Account {
        let id = self.register(email).await;
        Account {
            token: self.login(email).await,
            id,
        }
    }

    /// Has the superuser with `admin` token grant `credits` to the user `id`.
    pub async fn grant(&self, admin: &str, id: &str, credits: u64) {
        let grant = json!({"id": id, "credits": credits});
        let (status, body) = self.post("/credits", Some(admin), grant).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Registers `email` and has the superuser [`ROOT_EMAIL`] grant it
    /// `credits` (a child-process server, whose superuser the command line created).
    pub async fn funded_by_root(&self, email: &str, credits: u64) -> Account {
        let id = self.register(email).await;
        let root = self.login(ROOT_EMAIL).await;
        self.grant(&root, &id, credits).await;
        Account {
            token: self.login(email).await,
            id,
        }
    }

    /// The credits the user holds, as GET /users/me shows them.
    pub async fn credits_of(&self, account: &Account) -> u64 {
        let (status, me) = self.get("/users/me", Some(&account.token)).await;
        assert_eq!(status, StatusCode::OK);
        me["credits"].as_u64().unwrap()
    }

    /// Registers a probe of the user with `token`; returns its identifier and its token.
    pub async fn register_probe(&self, token: &str) -> (String, String) {
        let location = json!({"location": {"latitude": -34.6, "longitude": -58.5}});
        let (status, body) = self.post("/probes", Some(token), location).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["identifier"].as_str().unwrap().to_string(),
            body["token"].as_str().unwrap().to_string(),
        )
    }

    /// Creates an operation of `kind` (`ping`, `dns`, …) on `probes` with `body`'s other fields
    /// (at least `params`); returns its identifier.
    pub async fn create(&self, token: &str, kind: &str, probes: &[&str], body: Value) -> String {
        let mut body = body;
        body["probes"] = json!(probes);
        let (status, operation) = self.post(&format!("/{kind}"), Some(token), body).await;
        assert_eq!(status, StatusCode::CREATED, "{operation}");
        operation["_id"].as_str().unwrap().to_string()
    }

    /// Creates a ping of `probe` with `params` as the user with `token`, which must be
    /// created; returns the operation as the API shows it.
    pub async fn create_ping(&self, token: &str, probe: &str, params: Value) -> Value {
        let body = json!({"probes": [probe], "params": params});
        let (status, operation) = self.post("/ping", Some(token), body).await;
        assert_eq!(status, StatusCode::CREATED, "{operation}");
        operation
    }

    /// A ping of `probes` with `params`; returns its identifier.
    pub async fn ping(&self, token: &str, probes: &[&str], params: Value) -> String {
        self.create(token, "ping", probes, json!({"params": params}))
            .await
    }

    /// The probe as GET /probes shows it (`connected`, `availability`, `clock_offset_ms`, …).
    pub async fn probe_view(&self, probe: &str) -> Value {
        let probes = self.get_ok("/probes", None).await;
        let view = probes
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["identifier"] == probe);
        view.cloned()
            .unwrap_or_else(|| panic!("GET /probes does not list {probe}: {probes}"))
    }

    /// Every stored result of the operation, through all pages of
    /// `/operations/{id}/results`.
    pub async fn all_results(&self, operation: &str) -> Vec<Value> {
        let mut results = Vec::new();
        let mut path = format!("/operations/{operation}/results?limit=1000");
        loop {
            let page = self.get_ok(&path, None).await;
            results.extend(page["results"].as_array().unwrap().iter().cloned());
            match page["next"].as_str() {
                Some(next) => {
                    path = format!("/operations/{operation}/results?limit=1000&after={next}")
                }
                None => return results,
            }
        }
    }

    /// Every stored result's unique_code of the operation, in the order the pages give them.
    pub async fn stored_codes(&self, operation: &str) -> Vec<String> {
        let results = self.all_results(operation).await;
        results
            .iter()
            .map(|r| r["unique_code"].as_str().unwrap().to_string())
            .collect()
    }
}

/// A probe as the API registered it.
#[derive(Clone)]
pub struct ProbeCredentials {
    pub identifier: String,
    pub token: String,
}

/// The user an [`Api`] acts as.
pub const API_USER_EMAIL: &str = "api@example.org";

/// Accounts [`Api::create_probes`] registers probes for.
pub const PROBE_OWNERS: usize = 16;

/// Concurrent requests while registering many probes.
const REGISTER_CONCURRENCY: usize = 32;

/// One logged-in user with credits to spend, whose calls report failures instead of panicking
/// (the benchmark's client).
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    client: Client,
    pub token: String,
}

impl Api {
    /// Registers [`API_USER_EMAIL`] on `server`, has its superuser ([`ROOT_EMAIL`], see
    /// [`Server::launch`]) grant it `credits` and logs it in.
    pub async fn setup(server: &Server, credits: u64) -> Result<Api, Error> {
        let client = server.client();
        let mut api = Api {
            http: client.http.clone(),
            client,
            token: String::new(),
        };
        let credentials = json!({"email": API_USER_EMAIL, "password": PASSWORD});
        let user = api.post("/register", credentials).await?;
        api.token = api.login(ROOT_EMAIL).await?;
        api.post("/credits", json!({"id": user["_id"], "credits": credits}))
            .await?;
        api.token = api.login(API_USER_EMAIL).await?;
        Ok(api)
    }

    /// The same user, signed in with the same token, calling `server` (another instance on
    /// the same database, or one started on it later).
    pub fn on(&self, server: &Server) -> Api {
        Api {
            http: self.http.clone(),
            client: server.client(),
            token: self.token.clone(),
        }
    }

    async fn login(&self, email: &str) -> Result<String, Error> {
        let body = self
            .post("/login", json!({"email": email, "password": PASSWORD}))
            .await?;
        body["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Harness("no access_token".into()))
    }

    /// POSTs `body` as the user; the answer, if it is a success.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value, Error> {
        self.post_as(&self.token, path, body).await
    }

    /// POSTs `body` with the access token `token`; the answer, if it is a success.
    async fn post_as(&self, token: &str, path: &str, body: Value) -> Result<Value, Error> {
        let response = self
            .http
            .post(self.client.url(path))
            .header("access_token", token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            return Err(Error::Harness(format!("POST {path}: {status}: {body}")));
        }
        Ok(body)
    }

    /// GETs `path`; the size of the answer's body, if it is a success.
    pub async fn get(&self, path: &str) -> Result<usize, Error> {
        let response = self.http.get(self.client.url(path)).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            return Err(Error::Harness(format!("GET {path}: {status}")));
        }
        Ok(body.len())
    }

    /// Waits until GET /probes on this server reports every one of `ids` connected, or
    /// `timeout` passes; returns how many are. A link counts once the server has stored it, a
    /// little after the WebSocket opened: an operation created before selects only those.
    pub async fn wait_connected(&self, ids: &[String], timeout: Duration) -> Result<usize, Error> {
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let response = self.http.get(self.client.url("/probes")).send().await?;
            let listed: Vec<Value> = response.json().await?;
            let connected = listed
                .iter()
                .filter(|p| p["connected"] == true)
                .filter(|p| wanted.contains(p["identifier"].as_str().unwrap_or_default()))
                .count();
            if connected == wanted.len() || tokio::time::Instant::now() >= deadline {
                return Ok(connected);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Registers `n` probes, spread over the latitudes and over [`PROBE_OWNERS`] accounts:
    /// registrations for one owner take turns (its probe count is checked with each), those of
    /// different owners do not.
    pub async fn create_probes(&self, n: usize) -> Result<Vec<ProbeCredentials>, Error> {
        let mut owners = Vec::with_capacity(PROBE_OWNERS);
        for k in 0..PROBE_OWNERS.min(n) {
            let email = format!("probe-owner-{k}@example.org");
            let credentials = json!({"email": email, "password": PASSWORD});
            if let Err(error) = self.post("/register", credentials).await {
                // Registered by an earlier call on the same server.
                if !error.to_string().contains("already exists") {
                    return Err(error);
                }
            }
            owners.push(self.login(&email).await?);
        }
        let owners = &owners;
        stream::iter(0..n)
            .map(|i| async move {
                let body =
                    json!({"location": {"latitude": (i % 180) as f64 - 89.0, "longitude": 10.0}});
                let owner = &owners[i % owners.len()];
                let probe = self.post_as(owner, "/probes", body).await?;
                Ok::<_, Error>(ProbeCredentials {
                    identifier: probe["identifier"].as_str().unwrap_or_default().into(),
                    token: probe["token"].as_str().unwrap_or_default().into(),
                })
            })
            .buffered(REGISTER_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Creates a one-execution ping of one destination on `probes` (1 credit per probe);
    /// returns the operation id.
    pub async fn ping(&self, probes: &[String]) -> Result<String, Error> {
        self.ping_with(probes, crate::params::single_ping_params())
            .await
    }

    /// A ping of `probes` with `params`; returns its id.
    pub async fn ping_with(&self, probes: &[String], params: Value) -> Result<String, Error> {
        let body = json!({"probes": probes, "params": params});
        let operation = self.post("/ping", body).await?;
        Ok(operation["_id"].as_str().unwrap_or_default().to_string())
    }
}
