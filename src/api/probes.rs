//! /probes, /probes/me, /probes/{id}/token and DELETE /probes/{id}.

use super::error::ApiError;
use super::views;
use crate::ids::ProbeId;
use crate::probes::{revocation, Location};
use crate::state::AppState;
use crate::store::{Probe, User};
use serde_json::Value;
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

/// POST /probes → 201 with the probe and its token.
pub async fn register(state: AppState, owner: User, body: Value) -> Result<impl Reply, Rejection> {
    let location = parse_location(&body)?;
    let probe = Probe {
        id: ProbeId::generate(),
        owner: owner.id,
        location,
        token_version: 0,
        link: None,
    };
    state
        .store
        .insert_probe(&probe)
        .await
        .map_err(ApiError::from)?;
    tracing::info!(probe = %probe.id, owner = %owner.id, "probe registered");
    let token = state.tokens.probe_token(probe.id, probe.token_version);
    Ok(warp::reply::with_status(
        warp::reply::json(&views::probe(&probe, Some(token))),
        StatusCode::CREATED,
    ))
}

/// GET /probes: every probe, public fields only (no token), whoever asks.
pub async fn list(state: AppState) -> Result<impl Reply, Rejection> {
    let probes = state.store.probes(None).await.map_err(ApiError::from)?;
    let views: Vec<Value> = probes.iter().map(|p| views::probe(p, None)).collect();
    Ok(warp::reply::json(&views))
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
