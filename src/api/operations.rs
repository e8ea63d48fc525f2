//! /traceroute, /ping, /dns, /operations, /operations/me, /operations/{id}/results (GET
//! /operation streams: see [`super::download`]).

use super::error::ApiError;
use super::views;
use crate::domain::{OperationId, ResultId};
use crate::operations::{self, CreateRequest};
use crate::state::AppState;
use crate::store::{MeasurementResult, Operation, PageLimit, User};
use probe_protocol::OperationKind;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use warp::http::StatusCode;
use warp::{Rejection, Reply};

/// Results per page of GET /operations/{id}/results when no `limit` is given.
pub const DEFAULT_PAGE: usize = 100;
/// Largest page GET /operations/{id}/results serves.
pub const MAX_PAGE: usize = 1000;
/// Result bytes (content and error text) after which a page of results ends, whatever its count
/// (GET /operations/{id}/results and each chunk of GET /operation): a page weighs at most this
/// plus one result, itself at most a probe's frame (`PLADMED_MAX_FRAME_BYTES`).
pub const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// POST /traceroute, /ping, /dns → 201 with the operation.
pub async fn create(
    kind: OperationKind,
    state: AppState,
    owner: User,
    body: CreateRequest,
) -> Result<impl Reply, Rejection> {
    let operation = operations::create(&state, &owner, kind, body)
        .await
        .map_err(ApiError::from)?;
    let mut view = views::operation(&operation);
    view["results"] = json!([]);
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

/// The body of GET /operations/{id}/results.
#[derive(Serialize)]
struct ResultsPage<'a> {
    results: Vec<views::ResultView<'a>>,
    next: Option<ResultId>,
}

/// GET /operations/{id}/results?after=&limit= : `{results, next}`; `next` is the `after` of the
/// following page, `null` on the last one.
pub async fn results(
    raw_id: String,
    state: AppState,
    query: HashMap<String, String>,
) -> Result<impl Reply, Rejection> {
    let operation = find(&state, Some(&raw_id)).await?;
    let after =
        match query.get("after") {
            None => None,
            Some(raw) => Some(raw.parse::<ResultId>().map_err(|_| {
                ApiError::BadRequest(format!("after: {raw:?} is not a result cursor"))
            })?),
        };
    let limit = match query.get("limit") {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "limit: must be an integer between 1 and {MAX_PAGE}"
                ))
            })?,
    };
    let (results, next) = page(&state, operation.id, after, limit).await?;
    Ok(warp::reply::json(&ResultsPage {
        results: results.iter().map(views::result).collect(),
        next,
    }))
}

/// GET /operations (any user) and /operations/me (own): without results.
pub async fn list(state: AppState, owner: Option<User>) -> Result<impl Reply, Rejection> {
    let operations = state
        .store
        .operations(owner.map(|u| u.id))
        .await
        .map_err(ApiError::from)?;
    let views: Vec<Value> = operations.iter().map(views::operation).collect();
    Ok(warp::reply::json(&views))
}
