//! The REST API, compatible with the original pladmed-backend: routes, handlers, one error
//! mapping, CORS on every response.
//!
//! Each handler is a plain `async fn` taking typed inputs and returning `Result<_, ApiError>`;
//! the route builders below compose the filters that extract those inputs and pass the outcome
//! through [`error::respond`].

mod accounts;
mod development;
mod download;
mod error;
mod extract;
mod monitoring;
pub mod openapi;
mod operations;
mod probes;
mod rate_limit;
mod replies;
mod stream;

pub use error::ApiError;
pub use stream::Streams;

use crate::config::CorsOrigins;
use crate::domain::ProbeId;
use crate::state::AppState;
use error::respond;
use extract::{authenticated, checked_body, json_body, query, superuser, with_state};
use warp::http::Method;
use warp::{Filter, Rejection, Reply};

/// Every REST route, with errors mapped to JSON and CORS headers on every response (errors
/// included: without them a browser page cannot read a 4xx).
pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let cors = cors(&state);
    account_routes(state.clone())
        .or(probe_routes(state.clone()))
        .or(operation_routes(state.clone()))
        .or(development_routes(state.clone()))
        .or(monitoring::monitoring_routes(state))
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

/// /register, /login, /users/me, /credits.
fn account_routes(
    state: AppState,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let limit = rate_limit::AuthRateLimit::per_minute(state.settings.limits.auth_rate_per_minute);
    let register = warp::path!("register")
        .and(warp::post())
        .and(limit.filter())
        .and(with_state(state.clone()))
        .and(json_body())
        .then(accounts::register)
        .map(respond);
    let login = warp::path!("login")
        .and(warp::post())
        .and(limit.filter())
        .and(with_state(state.clone()))
        .and(json_body())
        .then(accounts::login)
        .map(respond);
    let me = warp::path!("users" / "me")
        .and(warp::get())
        .and(authenticated(state.clone()))
        .then(accounts::me)
        .map(respond);
    let grant = warp::path!("credits")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(superuser(state))
        .and(json_body())
        .then(accounts::grant)
        .map(respond);
    register.or(login).or(me).or(grant)
}

/// /probes, /probes/me, /probes/{id}/token, DELETE /probes/{id}.
fn probe_routes(
    state: AppState,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let register = warp::path!("probes")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(authenticated(state.clone()))
        .and(checked_body())
        .then(probes::register)
        .map(respond);
    let list = warp::path!("probes")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::header::optional::<String>("if-none-match"))
        .then(probes::list)
        .map(respond);
    let mine = warp::path!("probes" / "me")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(authenticated(state.clone()))
        .then(probes::mine)
        .map(respond);
    let new_token = warp::path!("probes" / ProbeId / "token")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(authenticated(state.clone()))
        .then(probes::new_token)
        .map(respond);
    let remove = warp::path!("probes" / ProbeId)
        .and(warp::delete())
        .and(with_state(state.clone()))
        .and(authenticated(state))
        .then(probes::remove)
        .map(respond);
    register.or(list).or(mine).or(new_token).or(remove)
}

/// /traceroute, /ping, /dns, /operation, /operations/{id}/results, /operations/{id}/stream,
/// /operations,
/// /operations/me.
fn operation_routes(
    state: AppState,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let create = |path: &'static str| {
        warp::path(path)
            .and(warp::path::end())
            .and(warp::post())
            .and(with_state(state.clone()))
            .and(authenticated(state.clone()))
            .and(json_body())
    };
    let traceroute = create("traceroute")
        .then(operations::create_traceroute)
        .map(respond);
    let ping = create("ping").then(operations::create_ping).map(respond);
    let dns = create("dns").then(operations::create_dns).map(respond);
    let get = warp::path!("operation")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(query())
        .then(download::get)
        .map(respond);
    let results = warp::path!("operations" / String / "results")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and_then(|raw_id: String, state: AppState| async move {
            operations::find(&state, Some(&raw_id))
                .await
                .map_err(Rejection::from)
        })
        .and(with_state(state.clone()))
        .and(query())
        .then(operations::results)
        .map(respond);
    let stream = warp::path!("operations" / String / "stream")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::header::optional::<String>("last-event-id"))
        .then(stream::stream)
        .map(respond);
    let all = warp::path!("operations")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(authenticated(state.clone()))
        .then(operations::list_all)
        .map(respond);
    let mine = warp::path!("operations" / "me")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(authenticated(state))
        .then(operations::list_mine)
        .map(respond);
    traceroute
        .or(ping)
        .or(dns)
        .or(get)
        .or(results)
        .or(stream)
        .or(all)
        .or(mine)
}

/// DELETE /delete_all.
fn development_routes(
    state: AppState,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("delete_all")
        .and(warp::delete())
        .and(with_state(state))
        .then(development::delete_all)
        .map(respond)
}
