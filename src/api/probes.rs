//! /probes, /probes/me, /probes/{id}/token and DELETE /probes/{id}.

use super::error::ApiError;
use super::openapi::BAD_REQUEST;
use super::replies::{self, ErrorBody};
use crate::domain::{Location, ProbeId};
use crate::probes::revocation;
use crate::state::AppState;
use crate::store::{Probe, StoreError, User};
use serde_json::Value;
use utoipa::ToSchema;
use warp::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG};
use warp::http::StatusCode;
use warp::Reply;

/// POST /probes.
#[derive(ToSchema)]
pub struct ProbeRegistration {
    /// Where the probe is.
    #[schema(value_type = replies::Location)]
    location: Location,
}

/// Read from any JSON value, so that each mistake, the body's shape included, gets a message
/// naming the field.
impl TryFrom<Value> for ProbeRegistration {
    type Error = ApiError;

    fn try_from(body: Value) -> Result<Self, ApiError> {
        let location = body
            .get("location")
            .filter(|l| l.is_object())
            .ok_or_else(|| {
                ApiError::BadRequest("location: an object {latitude, longitude} is required".into())
            })?;
        let coordinate = |name: &str| {
            location
                .get(name)
                .and_then(Value::as_f64)
                .ok_or_else(|| ApiError::BadRequest(format!("location.{name}: must be a number")))
        };
        let latitude = coordinate("latitude")?;
        let longitude = coordinate("longitude")?;
        let location = Location::new(latitude, longitude).map_err(ApiError::BadRequest)?;
        Ok(Self { location })
    }
}

/// Registers a probe → 201 with the probe and its token; 403 once the owner has
/// `PLADMED_MAX_PROBES_PER_USER` probes (counted atomically by the store).
#[utoipa::path(
    post, path = "/probes", tag = "probes", operation_id = "register_probe", summary = "Register a probe",
    security(("access_token" = []), ("bearer" = [])),
    request_body = ProbeRegistration,
    responses(
        (status = 201, description = "The probe with its token", body = replies::Probe),
        (status = 400, description = BAD_REQUEST, body = ErrorBody),
        (status = 403, description = "The account has `PLADMED_MAX_PROBES_PER_USER` probes already", body = ErrorBody),
    )
)]
#[tracing::instrument(name = "register_probe", skip_all, fields(user = %owner.id, probe))]
pub async fn register(
    state: AppState,
    owner: User,
    body: ProbeRegistration,
) -> Result<impl Reply, ApiError> {
    let max_per_owner = state.settings.limits.probes_per_user;
    let probe = Probe {
        id: ProbeId::generate(),
        owner: owner.id,
        location: body.location,
        token_version: 0,
        link: None,
    };
    tracing::Span::current().record("probe", tracing::field::display(probe.id));
    state.store.insert_probe(&probe, max_per_owner).await?;
    tracing::info!("probe registered");
    let token = state.tokens.probe_token(probe.id, probe.token_version);
    Ok(warp::reply::with_status(
        warp::reply::json(&replies::Probe::owned(&probe, token)),
        StatusCode::CREATED,
    ))
}

/// Every probe, public fields only (no token), whoever asks. Served from the cached rendering
/// (see [`crate::probes::listing`]); a poll whose `If-None-Match` names the current list gets
/// 304 without a body.
#[utoipa::path(
    get, path = "/probes", tag = "probes", operation_id = "list_probes", summary = "Every probe, public fields",
    params(("If-None-Match" = Option<String>, Header, nullable = false, description = "The `ETag` of a list read before: 304 if the list is still the same")),
    responses(
        (status = 200, description = "The probes (with `ETag`)", body = [replies::Probe]),
        (status = 304, description = "The list is still the one `If-None-Match` names"),
    )
)]
pub async fn list(
    state: AppState,
    if_none_match: Option<String>,
) -> Result<warp::reply::Response, ApiError> {
    let store = state.store.clone();
    let snapshot = state
        .probe_list
        .get(|| async move {
            let probes = store.probes(None).await?;
            let views: Vec<replies::Probe> = probes.iter().map(replies::Probe::from).collect();
            serde_json::to_vec(&views)
                .map_err(|e| StoreError::Corrupt(format!("probe list cannot be encoded: {e}")))
        })
        .await?;
    let unchanged = if_none_match.is_some_and(|tags| names(&tags, &snapshot.etag));
    let mut response = if unchanged {
        let mut response = warp::reply::Response::default();
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = warp::reply::Response::new(snapshot.body.clone().into());
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    };
    let headers = response.headers_mut();
    // Browsers then revalidate every poll with If-None-Match instead of reusing a stale copy.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&snapshot.etag) {
        headers.insert(ETAG, etag);
    }
    Ok(response)
}

/// Whether an `If-None-Match` value (`*` or a list of tags, weak or strong) names `etag`.
fn names(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// The caller's probes with their tokens (the frontend's token dialog reads it from here).
#[utoipa::path(
    get, path = "/probes/me", tag = "probes", operation_id = "my_probes", summary = "The caller's probes with their tokens",
    security(("access_token" = []), ("bearer" = [])),
    responses((status = 200, description = "The probes", body = [replies::Probe]))
)]
#[tracing::instrument(name = "my_probes", skip_all, fields(user = %owner.id))]
pub async fn mine(state: AppState, owner: User) -> Result<impl Reply, ApiError> {
    let probes = state.store.probes(Some(owner.id)).await?;
    let views: Vec<replies::Probe> = probes
        .iter()
        .map(|p| replies::Probe::owned(p, state.tokens.probe_token(p.id, p.token_version)))
        .collect();
    Ok(warp::reply::json(&views))
}

/// The probe `id` if `caller` owns it: 404 for an unknown id (a malformed one matches no
/// route), 403 for someone else's probe (probe ids are public through GET /probes, so 403
/// reveals nothing).
async fn owned(state: &AppState, caller: &User, id: ProbeId) -> Result<Probe, ApiError> {
    let missing = || ApiError::NotFound("Probe doesn't exist".into());
    let probe = state.store.probe(id).await?.ok_or_else(missing)?;
    if probe.owner != caller.id {
        return Err(ApiError::Forbidden(
            "only the probe's owner may do this".into(),
        ));
    }
    Ok(probe)
}

/// Issues a new token → 200 with the probe and its new token; every older token stops working
/// and a link using one is closed with 4001.
#[utoipa::path(
    post, path = "/probes/{id}/token", tag = "probes", operation_id = "new_probe_token",
    summary = "Revoke the probe's tokens and issue a new one (owner); a link using an old token is closed with 4001",
    security(("access_token" = []), ("bearer" = [])),
    params(("id" = String, Path, description = "Probe identifier")),
    responses(
        (status = 200, description = "The probe with its new token", body = replies::Probe),
        (status = 403, description = "Not the probe's owner", body = ErrorBody),
        (status = 404, description = "No such probe", body = ErrorBody),
    )
)]
#[tracing::instrument(name = "new_probe_token", skip_all, fields(user = %owner.id, probe = %id))]
pub async fn new_token(id: ProbeId, state: AppState, owner: User) -> Result<impl Reply, ApiError> {
    let probe = owned(&state, &owner, id).await?;
    let probe = revocation::revoke(state.store.as_ref(), state.hub.as_ref(), probe.id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Probe doesn't exist".into()))?
        .probe;
    let token = state.tokens.probe_token(probe.id, probe.token_version);
    Ok(warp::reply::json(&replies::Probe::owned(&probe, token)))
}

/// Removes a probe → 204; it leaves listings and cannot be chosen any more, its results stay,
/// and its link is closed with 4001.
#[utoipa::path(
    delete, path = "/probes/{id}", tag = "probes", operation_id = "remove_probe",
    summary = "Remove a probe (owner): no longer listed or assignable, its results stay; its link is closed with 4001",
    security(("access_token" = []), ("bearer" = [])),
    params(("id" = String, Path, description = "Probe identifier")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not the probe's owner", body = ErrorBody),
        (status = 404, description = "No such probe", body = ErrorBody),
    )
)]
#[tracing::instrument(name = "remove_probe", skip_all, fields(user = %owner.id, probe = %id))]
pub async fn remove(id: ProbeId, state: AppState, owner: User) -> Result<impl Reply, ApiError> {
    let probe = owned(&state, &owner, id).await?;
    revocation::remove(state.store.as_ref(), state.hub.as_ref(), probe.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
