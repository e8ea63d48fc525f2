//! The REST calls the scenarios need: an account with credits, probes, ping operations.

use crate::server::{Server, PASSWORD, ROOT_EMAIL};
use futures::{stream, StreamExt, TryStreamExt};
use serde_json::{json, Value};

const USER_EMAIL: &str = "bench@bench.example.org";
/// Concurrent requests while registering probes.
const REGISTER_CONCURRENCY: usize = 32;

/// A probe as the API registered it.
#[derive(Clone)]
pub struct ProbeCredentials {
    pub identifier: String,
    pub token: String,
}

/// A logged-in user with credits to spend.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    base: String,
    pub token: String,
}

impl Api {
    /// Registers a user, grants it `credits` as the superuser and logs it in.
    pub async fn setup(server: &Server, credits: u64) -> anyhow::Result<Api> {
        let mut api = Api {
            http: reqwest::Client::new(),
            base: server.url(""),
            token: String::new(),
        };
        let user = api
            .post(
                "/register",
                json!({"email": USER_EMAIL, "password": PASSWORD}),
            )
            .await?;
        api.token = api.login(ROOT_EMAIL).await?;
        api.post("/credits", json!({"id": user["_id"], "credits": credits}))
            .await?;
        api.token = api.login(USER_EMAIL).await?;
        Ok(api)
    }

    async fn login(&self, email: &str) -> anyhow::Result<String> {
        let body = self
            .post("/login", json!({"email": email, "password": PASSWORD}))
            .await?;
        Ok(body["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no access_token"))?
            .to_string())
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("access_token", &self.token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "POST {path}: {status}: {body}");
        Ok(body)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<usize> {
        let response = self.http.get(format!("{}{path}", self.base)).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        anyhow::ensure!(status.is_success(), "GET {path}: {status}");
        Ok(body.len())
    }

    /// Registers `n` probes.
    pub async fn create_probes(&self, n: usize) -> anyhow::Result<Vec<ProbeCredentials>> {
        stream::iter(0..n)
            .map(|i| async move {
                let body =
                    json!({"location": {"latitude": (i % 180) as f64 - 89.0, "longitude": 10.0}});
                let probe = self.post("/probes", body).await?;
                Ok::<_, anyhow::Error>(ProbeCredentials {
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
    pub async fn ping(&self, probes: &[String]) -> anyhow::Result<String> {
        self.ping_with(probes, ping_params()).await
    }

    /// A ping of `probes` with `params`; returns its id.
    pub async fn ping_with(&self, probes: &[String], params: Value) -> anyhow::Result<String> {
        let body = json!({"probes": probes, "params": params});
        let operation = self.post("/ping", body).await?;
        Ok(operation["_id"].as_str().unwrap_or_default().to_string())
    }
}

/// Runs 60 times a minute until enough minutes from now that each probe may deliver `results`
/// results (the coordinator stores no more than the schedule can produce); costs about
/// `results` + 60 credits per probe.
pub fn ping_producing(results: usize) -> Value {
    let minutes = results.div_ceil(60) as i64 + 1;
    let stop = (chrono::Utc::now() + chrono::Duration::minutes(minutes))
        .format("%d/%m/%Y %H:%M")
        .to_string();
    json!({"cron": "* * * * *", "stop_time": stop, "times_per_minute": 60, "ips": ["127.0.0.1"]})
}

/// Runs once (1 January, midnight) and stops in 30 minutes: one execution.
pub fn ping_params() -> Value {
    let stop = (chrono::Utc::now() + chrono::Duration::minutes(30))
        .format("%d/%m/%Y %H:%M")
        .to_string();
    json!({"cron": "0 0 1 1 *", "stop_time": stop, "times_per_minute": 1, "ips": ["127.0.0.1"]})
}
