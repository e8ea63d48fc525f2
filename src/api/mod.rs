//! The REST API, compatible with the original pladmed-backend: routes, handlers, one error
//! mapping, CORS on every response.

mod accounts;
mod download;
mod error;
mod extract;
mod monitoring;
pub mod openapi;
mod operations;
mod probes;
mod rate_limit;
mod views;

pub use error::ApiError;

use crate::config::{CorsOrigins, Mode};
use crate::domain::ProbeId;
use crate::state::AppState;
use extract::{authenticated, json_body, superuser, with_state};
use probe_protocol::OperationKind;
use std::collections::HashMap;
use warp::http::{Method, StatusCode};
use warp::{Filter, Rejection, Reply};

/// Every REST route, with errors mapped to JSON and CORS headers on every response (errors
/// included: without them a browser page cannot read a 4xx).
pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let cors = cors(&state);
    accounts(state.clone())
        .or(probes(state.clone()))
        .or(operations(state.clone()))
        .or(delete_all(state.clone()))
        .or(monitoring::routes(state))
        .recover(error::recover)
        .with(cors)
}

fn cors(state: &AppState) -> warp::cors::Builder {
    let builder = warp::cors()
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers(["content-type", "access_token", "authorization"])
        .max_age(600);
    match &state.settings.cors {
        CorsOrigins::Any => builder.allow_any_origin(),
        CorsOrigins::List(origins) => builder.allow_origins(origins.iter().map(String::as_str)),
    }
}

fn query() -> impl Filter<Extract = (HashMap<String, String>,), Error = Rejection> + Clone {
    warp::query::<HashMap<String, String>>()
}

fn accounts(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let limit = rate_limit::AuthRateLimit::per_minute(state.settings.limits.auth_rate_per_minute);
    let register = warp::path!("register")
        .and(warp::post())
        .and(limit.filter())
        .and(with_state(state.clone()))
        .and(json_body())
        .and_then(accounts::register);
    let login = warp::path!("login")
        .and(warp::post())
        .and(limit.filter())
        .and(with_state(state.clone()))
        .and(json_body())
        .and_then(accounts::login);
    let me = warp::path!("users" / "me")
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and_then(accounts::me);
    let grant = warp::path!("credits")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(superuser(state))
        .and(json_body())
        .and_then(accounts::grant);
    register.or(login).or(me).or(grant)
}

fn probes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let register = warp::path!("probes")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(authenticated(state.clone()))
        .and(json_body())
        .and_then(probes::register);
    let list = warp::path!("probes")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::header::optional::<String>("if-none-match"))
        .and_then(probes::list);
    let mine = warp::path!("probes" / "me")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(authenticated(state.clone()))
        .and_then(probes::mine);
    let new_token = warp::path!("probes" / ProbeId / "token")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(authenticated(state.clone()))
        .and_then(probes::new_token);
    let remove = warp::path!("probes" / ProbeId)
        .and(warp::delete())
        .and(with_state(state.clone()))
        .and(authenticated(state))
        .and_then(probes::remove);
    register.or(list).or(mine).or(new_token).or(remove)
}

fn create(
    path: &'static str,
    kind: OperationKind,
    state: AppState,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path(path)
        .and(warp::path::end())
        .and(warp::post())
        .map(move || kind)
        .and(with_state(state.clone()))
        .and(authenticated(state))
        .and(json_body())
        .and_then(operations::create)
}

fn operations(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let get = warp::path!("operation")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(query())
        .and_then(download::get);
    let results = warp::path!("operations" / String / "results")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(query())
        .and_then(operations::results);
    let all = warp::path!("operations")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(authenticated(state.clone()))
        .and_then(|state, _user| operations::list(state, None));
    let mine = warp::path!("operations" / "me")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(authenticated(state.clone()))
        .and_then(|state, user| operations::list(state, Some(user)));
    create("traceroute", OperationKind::Traceroute, state.clone())
        .or(create("ping", OperationKind::Ping, state.clone()))
        .or(create("dns", OperationKind::Dns, state))
        .or(get)
        .or(results)
        .or(all)
        .or(mine)
}

/// DELETE /delete_all: wipes the store in development mode; 404 in production.
fn delete_all(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("delete_all")
        .and(warp::delete())
        .and(with_state(state))
        .and_then(|state: AppState| async move {
            if state.settings.mode == Mode::Production {
                return Err(Rejection::from(ApiError::NotFound("Not found".into())));
            }
            state.store.delete_all().await.map_err(ApiError::from)?;
            tracing::warn!("store wiped through /delete_all");
            Ok(StatusCode::NO_CONTENT)
        })
}
