//! /traceroute, /ping, /dns, /operations, /operations/me, /operations/{id}/results (GET
//! /operation streams: see [`super::download`]).

use super::error::ApiError;
use super::openapi::BAD_REQUEST;
use super::replies::{self, ErrorBody, ResultsPage};
use crate::domain::{OperationId, ResultId};
use crate::operations::{self, CreateRequest};
use crate::state::AppState;
use crate::store::{MeasurementResult, Operation, PageLimit, User};
use probe_protocol::OperationKind;
use serde::{Deserialize, Deserializer};
use utoipa::IntoParams;
use warp::http::StatusCode;
use warp::Reply;

/// Results per page of GET /operations/{id}/results when no `limit` is given.
pub const DEFAULT_PAGE: usize = 100;
/// Largest page GET /operations/{id}/results serves.
pub const MAX_PAGE: usize = 1000;
/// Result bytes (content and error text) after which a page of results ends, whatever its count
/// (GET /operations/{id}/results and each chunk of GET /operation): a page weighs at most this
/// plus one result, itself at most a probe's frame (`PLADMED_MAX_FRAME_BYTES`).
pub const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// What each create route answers besides 201.
const UNAVAILABLE_PROBES: &str =
    "Unknown or malformed probe identifier, or none of the probes can take it";

/// A documented handler per kind, all three the same [`create`]: the document lists each path.
macro_rules! create_handler {
    ($name:ident, $kind:ident, $path:literal, $summary:literal) => {
        #[doc = concat!("POST ", $path, ": ", $summary, ".")]
        #[utoipa::path(
            post, path = $path, tag = "operations", summary = $summary,
            security(("access_token" = []), ("bearer" = [])),
            request_body = CreateRequest,
            responses(
                (status = 201, description = "The operation, paid for and sent to its probes", body = replies::Operation),
                (status = 400, description = BAD_REQUEST, body = ErrorBody),
                (status = 404, description = UNAVAILABLE_PROBES, body = ErrorBody),
            )
        )]
        pub async fn $name(
            state: AppState,
            owner: User,
            body: CreateRequest,
        ) -> Result<impl Reply, ApiError> {
            create(OperationKind::$kind, state, owner, body).await
        }
    };
}

create_handler!(
    create_traceroute,
    Traceroute,
    "/traceroute",
    "Create a traceroute operation"
);
create_handler!(create_ping, Ping, "/ping", "Create a ping operation");
create_handler!(create_dns, Dns, "/dns", "Create a dns operation");

/// POST /traceroute, /ping, /dns → 201 with the operation and its (empty) results.
#[tracing::instrument(name = "create_operation", skip_all, fields(user = %owner.id, ?kind))]
async fn create(
    kind: OperationKind,
    state: AppState,
    owner: User,
    body: CreateRequest,
) -> Result<impl Reply, ApiError> {
    let (store, hub) = (state.store.as_ref(), state.hub.as_ref());
    let operation = operations::create(store, hub, &state.prices, &owner, kind, body).await?;
    state.telemetry.operations_created.inc();
    let view = replies::Operation {
        results: Some(Vec::new()),
        ..replies::Operation::from(&operation)
    };
    Ok(warp::reply::with_status(
        warp::reply::json(&view),
        StatusCode::CREATED,
    ))
}

/// The operation `raw_id` names; 404 when the id is missing, malformed or unknown.
pub(super) async fn find(state: &AppState, raw_id: Option<&str>) -> Result<Operation, ApiError> {
    let missing = || ApiError::NotFound("Operation doesn't exist".into());
    let id: OperationId = raw_id.unwrap_or_default().parse().map_err(|_| missing())?;
    state.store.operation(id).await?.ok_or_else(missing)
}

/// One page of results and the cursor of the next page, if there is one: when the page is full
/// by count and more follow, or when it ended at [`PAGE_BYTES`] (then the next page may be
/// empty).
async fn page(
    state: &AppState,
    operation: OperationId,
    after: Option<ResultId>,
    limit: usize,
) -> Result<(Vec<MeasurementResult>, Option<ResultId>), ApiError> {
    let bound = PageLimit::new(limit + 1, PAGE_BYTES);
    let mut results = state.store.results(operation, after, bound).await?;
    let more = results.len() > limit;
    results.truncate(limit);
    let weight: usize = results.iter().map(MeasurementResult::weight).sum();
    let next = if more || weight >= PAGE_BYTES {
        results.last().map(|r| r.id)
    } else {
        None
    };
    Ok((results, next))
}

/// The query of GET /operations/{id}/results; each wrong value is a 400 naming its field.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// Cursor: the `next` of the previous page
    #[serde(default, deserialize_with = "cursor")]
    #[param(value_type = Option<String>)]
    after: Option<ResultId>,
    /// Page size
    #[serde(default = "default_page", deserialize_with = "page_size")]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: usize,
}

fn default_page() -> usize {
    DEFAULT_PAGE
}

fn cursor<'de, D: Deserializer<'de>>(raw: D) -> Result<Option<ResultId>, D::Error> {
    let raw = String::deserialize(raw)?;
    raw.parse()
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("after: {raw:?} is not a result cursor")))
}

fn page_size<'de, D: Deserializer<'de>>(raw: D) -> Result<usize, D::Error> {
    String::deserialize(raw)?
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "limit: must be an integer between 1 and {MAX_PAGE}"
            ))
        })
}

/// A page of an operation's results: `{results, next}`; `next` is the `after` of the following
/// page, `null` on the last one. The route reads `operation` before the query, so an unknown
/// operation is a 404 whatever the query says.
#[utoipa::path(
    get, path = "/operations/{id}/results", tag = "operations", operation_id = "results_page",
    summary = "A page of an operation's results: at most `limit` results, and it ends early with the result that brings their content and error text to 4 MiB (then `next` is set, and the next page may be empty)",
    params(("id" = String, Path, description = "Operation identifier"), ResultsQuery),
    responses(
        (status = 200, description = "The page", body = ResultsPage),
        (status = 400, description = BAD_REQUEST, body = ErrorBody),
        (status = 404, description = "No such operation", body = ErrorBody),
    )
)]
#[tracing::instrument(name = "results_page", skip_all, fields(operation = %operation.id))]
pub async fn results(
    operation: Operation,
    state: AppState,
    query: ResultsQuery,
) -> Result<impl Reply, ApiError> {
    let (results, next) = page(&state, operation.id, query.after, query.limit).await?;
    Ok(warp::reply::json(&ResultsPage {
        results: results
            .iter()
            .map(replies::MeasurementResult::from)
            .collect(),
        next,
    }))
}

/// Every operation, whoever asks, without results.
#[utoipa::path(
    get, path = "/operations", tag = "operations", operation_id = "list_operations", summary = "Every operation, without results",
    security(("access_token" = []), ("bearer" = [])),
    responses((status = 200, description = "The operations", body = [replies::Operation]))
)]
pub async fn list_all(state: AppState, _user: User) -> Result<impl Reply, ApiError> {
    list(&state, None).await
}

/// The caller's operations, without results.
#[utoipa::path(
    get, path = "/operations/me", tag = "operations", operation_id = "my_operations",
    summary = "The caller's operations, without results",
    security(("access_token" = []), ("bearer" = [])),
    responses((status = 200, description = "The operations", body = [replies::Operation]))
)]
#[tracing::instrument(name = "my_operations", skip_all, fields(user = %owner.id))]
pub async fn list_mine(state: AppState, owner: User) -> Result<impl Reply, ApiError> {
    list(&state, Some(&owner)).await
}

async fn list(state: &AppState, owner: Option<&User>) -> Result<impl Reply, ApiError> {
    let operations = state.store.operations(owner.map(|u| u.id)).await?;
    let views: Vec<replies::Operation> = operations.iter().map(replies::Operation::from).collect();
    Ok(warp::reply::json(&views))
}
