//! Monitoring: GET /healthz (liveness, open), GET /health?code= and GET /metrics?code=&format=,
//! GET /openapi.json.

use super::error::ApiError;
use super::extract::with_state;
use super::query;
use crate::health::CHECK_TIMEOUT;
use crate::state::AppState;
use crate::store::Inventory;
use crate::telemetry::{influx_lines, prometheus_text, Gauges, InfluxTags};
use chrono::Utc;
use serde_json::json;
use std::collections::HashMap;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

/// Prometheus' text exposition media type.
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The monitoring routes.
pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::json(&json!({ "status": "alive" })));
    let health = warp::path!("health")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(query())
        .and_then(health);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state))
        .and(query())
        .and_then(metrics);
    let openapi = warp::path!("openapi.json").and(warp::get()).map(|| {
        warp::reply::with_header(
            super::openapi::document_json(),
            "content-type",
            "application/json",
        )
    });
    healthz.or(health).or(metrics).or(openapi)
}

/// 200 when every check passes, 503 otherwise; never cached, so a monitor sees the present.
async fn health(
    state: AppState,
    query: HashMap<String, String>,
) -> Result<warp::reply::Response, Rejection> {
    authorize(state.settings.health_code.as_deref(), &query)?;
    let report = crate::health::check(&state).await;
    let status = if report.global_status {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let reply = warp::reply::with_status(warp::reply::json(&report), status);
    Ok(warp::reply::with_header(reply, "cache-control", "no-store").into_response())
}

async fn metrics(
    state: AppState,
    query: HashMap<String, String>,
) -> Result<warp::reply::Response, Rejection> {
    authorize(state.settings.metrics_code.as_deref(), &query)?;
    let influx = match query.get("format").map(String::as_str) {
        None | Some("prometheus") => false,
        Some("influx") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format: must be prometheus or influx, not {other:?}"
            ))
            .into())
        }
    };
    let clock = state.clock.status();
    let gauges = Gauges {
        probes_connected: state.hub.connected(),
        clock: &clock,
        inventory: inventory(&state).await,
    };
    let metrics = state.telemetry.metrics(&gauges);
    let (body, content_type) = if influx {
        let tags = InfluxTags {
            instance: &state.settings.instance,
            app_env: state.settings.mode.as_str(),
        };
        let body = influx_lines(&metrics, tags, Utc::now());
        (body, "text/plain; charset=utf-8")
    } else {
        (prometheus_text(&metrics), PROMETHEUS)
    };
    let reply = warp::reply::with_header(body, "content-type", content_type);
    Ok(warp::reply::with_header(reply, "cache-control", "no-store").into_response())
}

/// The store's counts, or `None` (logged) when it fails or takes longer than a health check
/// may: a scrape must not hang on a slow database, and its other series are still worth having.
async fn inventory(state: &AppState) -> Option<Inventory> {
    match tokio::time::timeout(CHECK_TIMEOUT, state.store.inventory()).await {
        Ok(Ok(inventory)) => Some(inventory),
        Ok(Err(error)) => {
            tracing::warn!(%error, "metrics without inventory: the store could not count");
            None
        }
        Err(_) => {
            tracing::warn!("metrics without inventory: the store took too long to count");
            None
        }
    }
}

/// Checks `?code=` against the configured secret; no secret configured (development only)
/// means open.
fn authorize(expected: Option<&str>, query: &HashMap<String, String>) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    match query.get("code") {
        Some(code) if same_secret(code.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(ApiError::Forbidden("a valid code is required".into())),
    }
}

/// Compares in time independent of where the inputs differ, so response timing does not
/// reveal how much of a guessed code was right.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_must_match_exactly_when_configured() {
        let query = |code: &str| HashMap::from([("code".to_string(), code.to_string())]);
        assert!(authorize(None, &HashMap::new()).is_ok());
        assert!(authorize(Some("sesame-sesame-16"), &query("sesame-sesame-16")).is_ok());
        assert!(authorize(Some("sesame-sesame-16"), &query("sesame-sesame-17")).is_err());
        assert!(authorize(Some("sesame-sesame-16"), &query("sesame")).is_err());
        assert!(authorize(Some("sesame-sesame-16"), &HashMap::new()).is_err());
    }
}
