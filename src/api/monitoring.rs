//! Monitoring: GET /healthz (liveness, open), GET /health?code= and GET /metrics?code=&format=,
//! GET /openapi.json.

use super::error::{respond, ApiError};
use super::extract::{query, with_state};
use super::replies::{ErrorBody, Liveness};
use crate::health::{HealthReport, CHECK_TIMEOUT};
use crate::state::AppState;
use crate::store::Inventory;
use crate::telemetry::{influx_lines, prometheus_text, Gauges, InfluxTags};
use chrono::Utc;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

/// Prometheus' text exposition media type.
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The monitoring routes. The secret `code` is checked before the rest of the query, so a
/// caller without it learns nothing from the 400s.
pub fn monitoring_routes(
    state: AppState,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let healthz = warp::path!("healthz").and(warp::get()).map(healthz);
    let health_code = state.settings.health_code.clone();
    let health = warp::path!("health")
        .and(warp::get())
        .and(with_code(health_code))
        .and(with_state(state.clone()))
        .then(health);
    let metrics_code = state.settings.metrics_code.clone();
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_code(metrics_code))
        .and(with_state(state))
        .and(query::<MetricsQuery>())
        .then(metrics)
        .map(respond);
    let openapi = warp::path!("openapi.json")
        .and(warp::get())
        .map(openapi_json);
    healthz.or(health).or(metrics).or(openapi)
}

/// Liveness, for container healthchecks: the process serves requests.
#[utoipa::path(
    get, path = "/healthz", tag = "monitoring", summary = "Liveness, for container healthchecks",
    responses((status = 200, description = "The process serves requests", body = Liveness))
)]
pub fn healthz() -> impl Reply {
    warp::reply::json(&Liveness { status: "alive" })
}

/// The document served at GET /openapi.json.
#[utoipa::path(
    get, path = "/openapi.json", tag = "monitoring", summary = "This document",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
pub fn openapi_json() -> impl Reply {
    warp::reply::with_header(
        super::openapi::document_json(),
        "content-type",
        "application/json",
    )
}

/// The secret of a monitoring route (documented by each route: it names its own variable).
#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

/// Passes when `?code=` is the configured secret; no secret configured (development only)
/// means open.
fn with_code(expected: Option<String>) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    query::<CodeQuery>()
        .and_then(move |query: CodeQuery| {
            let allowed = authorize(expected.as_deref(), query.code.as_deref());
            async move { allowed.map_err(Rejection::from) }
        })
        .untuple_one()
}

/// Database, clock and hub checks: 200 when every check passes, 503 otherwise; never cached,
/// so a monitor sees the present.
#[utoipa::path(
    get, path = "/health", tag = "monitoring", summary = "Database, clock and hub checks",
    params(("code" = String, Query, description = "The secret `PLADMED_HEALTH_CODE`")),
    responses(
        (status = 200, description = "Healthy", body = HealthReport),
        (status = 503, description = "Unhealthy: see `status` and `messages`", body = HealthReport),
        (status = 403, description = "Missing or wrong code", body = ErrorBody),
    )
)]
pub async fn health(state: AppState) -> warp::reply::Response {
    let report = crate::health::check(&state).await;
    let status = if report.global_status {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let reply = warp::reply::with_status(warp::reply::json(&report), status);
    warp::reply::with_header(reply, "cache-control", "no-store").into_response()
}

/// The query of GET /metrics besides its code.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// Exposition format
    #[serde(default, deserialize_with = "exposition")]
    #[param(inline)]
    format: Option<Exposition>,
}

/// How GET /metrics writes its series.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Exposition {
    /// Prometheus text (the default).
    Prometheus,
    /// InfluxDB line protocol.
    Influx,
}

/// A known format, or a 400 naming the field.
fn exposition<'de, D: Deserializer<'de>>(raw: D) -> Result<Option<Exposition>, D::Error> {
    match String::deserialize(raw)?.as_str() {
        "prometheus" => Ok(Some(Exposition::Prometheus)),
        "influx" => Ok(Some(Exposition::Influx)),
        other => Err(serde::de::Error::custom(format!(
            "format: must be prometheus or influx, not {other:?}"
        ))),
    }
}

/// Counters and gauges: Prometheus text, or InfluxDB line protocol with `format=influx`.
#[utoipa::path(
    get, path = "/metrics", tag = "monitoring", summary = "Counters and gauges",
    params(("code" = String, Query, description = "The secret `PLADMED_METRICS_CODE`"), MetricsQuery),
    responses(
        (status = 200, description = "Prometheus text (default) or InfluxDB line protocol", body = String, content_type = "text/plain"),
        (status = 400, description = "Unknown format", body = ErrorBody),
        (status = 403, description = "Missing or wrong code", body = ErrorBody),
    )
)]
pub async fn metrics(state: AppState, query: MetricsQuery) -> Result<impl Reply, ApiError> {
    let clock = state.clock.status();
    let gauges = Gauges {
        probes_connected: state.hub.connected(),
        clock: &clock,
        inventory: inventory(&state).await,
    };
    let metrics = state.telemetry.metrics(&gauges);
    let (body, content_type) = if query.format == Some(Exposition::Influx) {
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
    Ok(warp::reply::with_header(reply, "cache-control", "no-store"))
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
fn authorize(expected: Option<&str>, code: Option<&str>) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    match code {
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
        assert!(authorize(None, None).is_ok());
        assert!(authorize(Some("sesame-sesame-16"), Some("sesame-sesame-16")).is_ok());
        assert!(authorize(Some("sesame-sesame-16"), Some("sesame-sesame-17")).is_err());
        assert!(authorize(Some("sesame-sesame-16"), Some("sesame")).is_err());
        assert!(authorize(Some("sesame-sesame-16"), None).is_err());
    }
}
