//! The server's REST API as the commands use it: JSON in, JSON out, and every failure turned
//! into a [`CliError`] carrying the server's own `Error` text.

use crate::error::{CliError, Result};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// Longest wait for a TCP connection to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a whole REST answer (the stream has no such bound: it lasts as long as the
/// operation).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A client of one server, with the user's token when logged in there.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// A client of `base` (`http(s)://host[:port]`, a trailing `/` ignored).
    pub fn new(base: &str, token: Option<String>) -> Result<Self> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CliError::Usage(format!(
                "--server: {base:?} is not an http:// or https:// URL"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("pladmed-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Local(format!("HTTP client: {e}")))?;
        Ok(Self { http, base, token })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET `path` without credentials (the public routes).
    pub async fn get(&self, path: &str) -> Result<Value> {
        let request = self.http.get(self.url(path)).timeout(REQUEST_TIMEOUT);
        self.json(request).await
    }

    /// GET `path` as the logged-in user.
    pub async fn get_as_user(&self, path: &str) -> Result<Value> {
        let request = self.http.get(self.url(path)).timeout(REQUEST_TIMEOUT);
        self.json(self.authorized(request)?).await
    }

    /// POST `body` to `path` as the logged-in user.
    pub async fn post_as_user(&self, path: &str, body: &Value) -> Result<Value> {
        let request = self
            .http
            .post(self.url(path))
            .json(body)
            .timeout(REQUEST_TIMEOUT);
        self.json(self.authorized(request)?).await
    }

    /// POST /login; wrong credentials are an [`CliError::Auth`].
    pub async fn login(&self, email: &str, password: &str) -> Result<String> {
        let body = serde_json::json!({"email": email, "password": password});
        let request = self
            .http
            .post(self.url("/login"))
            .json(&body)
            .timeout(REQUEST_TIMEOUT);
        let response = self.send(request).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(CliError::Auth(format!(
                "login refused: {}",
                error_text(response).await
            )));
        }
        let answer = self.success(response).await?;
        answer["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.not_the_api("no access_token in the login answer"))
    }

    /// Opens GET /operations/{id}/stream, resuming after the result cursor `last_event_id`.
    pub async fn stream(&self, operation: &str, last_event_id: Option<&str>) -> Result<Response> {
        let mut request = self
            .http
            .get(self.url(&format!("/operations/{operation}/stream")))
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(cursor) = last_event_id {
            request = request.header("Last-Event-ID", cursor);
        }
        if let Some(token) = &self.token {
            request = request.header("access_token", token);
        }
        let response = self.send(request).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(self.failure(response).await)
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorized(&self, request: RequestBuilder) -> Result<RequestBuilder> {
        let token = self.token.as_ref().ok_or_else(|| {
            CliError::Auth(format!(
                "not logged in to {}: run `pladmed-cli login EMAIL` first",
                self.base
            ))
        })?;
        Ok(request.header("access_token", token))
    }

    async fn json(&self, request: RequestBuilder) -> Result<Value> {
        let response = self.send(request).await?;
        self.success(response).await
    }

    async fn send(&self, request: RequestBuilder) -> Result<Response> {
        request.send().await.map_err(|e| self.unreachable(&e))
    }

    /// The JSON of a 2xx answer, or the failure the status and `Error` text say.
    async fn success(&self, response: Response) -> Result<Value> {
        if !response.status().is_success() {
            return Err(self.failure(response).await);
        }
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| self.not_the_api(&e.to_string()))
    }

    async fn failure(&self, response: Response) -> CliError {
        let status = response.status();
        let text = error_text(response).await;
        match status {
            StatusCode::UNAUTHORIZED => CliError::Auth(format!(
                "the server refused the stored token ({text}): log in again with \
                 `pladmed-cli login EMAIL`"
            )),
            s if s.is_server_error() => {
                CliError::Network(format!("{} failed ({status}): {text}", self.base))
            }
            _ => CliError::Refused(text),
        }
    }

    pub(crate) fn unreachable(&self, error: &reqwest::Error) -> CliError {
        CliError::Network(format!("cannot reach {}: {}", self.base, chain(error)))
    }

    fn not_the_api(&self, what: &str) -> CliError {
        CliError::Network(format!(
            "{} answered something that is not the Pladmed API: {what}",
            self.base
        ))
    }
}

/// The `Error` (or `error`) text of an error answer, or its status when it has none.
async fn error_text(response: Response) -> String {
    let status = response.status();
    let body: Option<Value> = response.json().await.ok();
    body.as_ref()
        .and_then(|b| b.get("Error").or_else(|| b.get("error")))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| status.to_string())
}

/// An error and its causes, `: `-separated (reqwest's own message hides the cause).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
