//! /probes, /probes/me, /probes/{id}/token and DELETE /probes/{id}.

use super::error::ApiError;
use super::views;
use crate::domain::{Location, ProbeId};
use crate::probes::revocation;
use crate::state::AppState;
use crate::store::{Probe, StoreError, User};
use serde_json::Value;
use warp::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG};
use warp::http::StatusCode;
use warp::{Rejection, Reply};

fn coordinate(location: &Value, name: &str) -> Result<f64, ApiError> {
    location
        .get(name)
        .and_then(Value::as_f64)
        .ok_or_else(|| ApiError::BadRequest(format!("location.{name}: must be a number")))
}

fn parse_location(body: &Value) -> Result<Location, ApiError> {
    let location = body
        .get("location")
        .filter(|l| l.is_object())
        .ok_or_else(|| {
            ApiError::BadRequest("location: an object {latitude, longitude} is required".into())
        })?;
    let latitude = coordinate(location, "latitude")?;
    let longitude = coordinate(location, "longitude")?;
    Location::new(latitude, longitude).map_err(ApiError::BadRequest)
}

/// POST /probes → 201 with the probe and its token; 403 once the owner has
/// `PLADMED_MAX_PROBES_PER_USER` probes (counted atomically by the store).
pub async fn register(state: AppState, owner: User, body: Value) -> Result<impl Reply, Rejection> {
    let location = parse_location(&body)?;
    let max_per_owner = state.settings.limits.probes_per_user;
    let probe = Probe {
        id: ProbeId::generate(),
        owner: owner.id,
        location,
        token_version: 0,
        link: None,
    };
    state
        .store
        .insert_probe(&probe, max_per_owner)
        .await
        .map_err(ApiError::from)?;
    tracing::info!(probe = %probe.id, owner = %owner.id, "probe registered");
    let token = state.tokens.probe_token(probe.id, probe.token_version);
    Ok(warp::reply::with_status(
        warp::reply::json(&views::probe(&probe, Some(token))),
        StatusCode::CREATED,
    ))
}

/// GET /probes: every probe, public fields only (no token), whoever asks. Served from the
/// cached rendering (see [`crate::probes::listing`]); a poll whose `If-None-Match` names the
/// current list gets 304 without a body.
pub async fn list(
    state: AppState,
    if_none_match: Option<String>,
) -> Result<warp::reply::Response, Rejection> {
    let store = state.store.clone();
    let snapshot = state
        .probe_list
        .get(|| async move {
            let probes = store.probes(None).await?;
            let views: Vec<Value> = probes.iter().map(|p| views::probe(p, None)).collect();
            serde_json::to_vec(&views)
                .map_err(|e| StoreError::Corrupt(format!("probe list cannot be encoded: {e}")))
        })
        .await
        .map_err(ApiError::from)?;
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

/// GET /probes/me: the caller's probes with their tokens (the frontend's token dialog reads it
/// from here).
pub async fn mine(state: AppState, owner: User) -> Result<impl Reply, Rejection> {
    let probes = state
        .store
        .probes(Some(owner.id))
        .await
        .map_err(ApiError::from)?;
    let views: Vec<Value> = probes
        .iter()
        .map(|p| views::probe(p, Some(state.tokens.probe_token(p.id, p.token_version))))
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

/// POST /probes/{id}/token → 200 with the probe and a new token; every older token stops
/// working and a link using one is closed with 4001.
pub async fn new_token(id: ProbeId, state: AppState, owner: User) -> Result<impl Reply, Rejection> {
    let probe = owned(&state, &owner, id).await?;
    let probe = revocation::revoke(state.store.as_ref(), state.hub.as_ref(), probe.id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::NotFound("Probe doesn't exist".into()))?
        .probe;
    let token = state.tokens.probe_token(probe.id, probe.token_version);
    Ok(warp::reply::json(&views::probe(&probe, Some(token))))
}

/// DELETE /probes/{id} → 204; the probe leaves listings and cannot be chosen any more, its
/// results stay, and its link is closed with 4001.
pub async fn remove(id: ProbeId, state: AppState, owner: User) -> Result<impl Reply, Rejection> {
    let probe = owned(&state, &owner, id).await?;
    revocation::remove(state.store.as_ref(), state.hub.as_ref(), probe.id)
        .await
        .map_err(ApiError::from)?;
    Ok(StatusCode::NO_CONTENT)
}
