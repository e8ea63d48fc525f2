//! The probe link: `GET /probe/ws` ([`LINK_PATH`]), one WebSocket per connected probe.
//!
//! `route` admits the request and `upgrade` takes over the connection; `session` authenticates the probe, runs the hello/welcome
//! handshake, delivers pending operations and then handles the probe's messages, while `writer`
//! is the single task that writes to the socket. `pacing` and the result window decide when the
//! session reads (flow control, not disconnection), `liveness` whether the peer still reads.

mod admission;
mod budget;
mod frames;
mod handshake;
mod liveness;
mod pacing;
mod session;
mod upgrade;
mod writer;

use crate::client::ClientAddr;
use crate::state::AppState;
pub(crate) use admission::Slot;
pub(crate) use admission::{Full, LinkSlots};
pub(crate) use handshake::{authenticate, still_valid};
use probe_protocol::LINK_PATH;
use std::collections::HashMap;
use tracing::Instrument;
pub use upgrade::READ_CHUNK;
use upgrade::{NotUpgrade, Upgrade};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

/// The `GET /probe/ws` route ([`LINK_PATH`]). The token comes from `Authorization: Bearer` or `?token=`.
/// A plain GET (no upgrade) is answered 400, not left to fall through to the REST API's 404:
/// a misconfigured reverse proxy that drops the upgrade headers shows up as what it is.
pub fn route(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let limits = &state.settings.limits;
    let slots = LinkSlots::new(limits.ws_per_address, limits.ws_total);
    let budget = budget::IngestBudget::new(state.settings.ingest_memory_bytes);
    link_path()
        .and(warp::get())
        .and(upgrade::request())
        .and(warp::header::optional::<String>("authorization"))
        .and(
            warp::query::<HashMap<String, String>>()
                .or(warp::any().map(HashMap::new))
                .unify(),
        )
        .and(warp::any().map(move || state.clone()))
        .and(crate::listener::client())
        .map(
            move |upgrade: Result<Upgrade, NotUpgrade>,
                  authorization: Option<String>,
                  query: HashMap<String, String>,
                  state: AppState,
                  client: Option<ClientAddr>| {
                let upgrade = match upgrade {
                    Ok(upgrade) => upgrade,
                    Err(not) => return not.reply(),
                };
                let slot = match slots.take(client.map(ClientAddr::limit_key)) {
                    Ok(slot) => slot,
                    Err(full) => {
                        tracing::debug!(?full, "probe link refused");
                        return refuse(full);
                    }
                };
                let token = authorization
                    .as_deref()
                    .and_then(|value| value.strip_prefix("Bearer "))
                    .map(str::to_string)
                    .or_else(|| query.get("token").cloned());
                let limit = state.settings.max_frame_bytes;
                // The link outlives the request: its own span keeps the client in its logs.
                let span = tracing::info_span!("link", client = tracing::field::Empty);
                if let Some(client) = client {
                    span.record("client", tracing::field::display(client));
                }
                let budget = budget.clone();
                upgrade.accept(limit, move |socket| {
                    let links = state.links.clone();
                    links.track_future(
                        async move {
                            session::run(socket, token, state, budget).await;
                            drop(slot);
                        }
                        .instrument(span),
                    )
                })
            },
        )
}

/// Matches exactly [`LINK_PATH`], segment by segment as `warp::path!` would.
fn link_path() -> impl Filter<Extract = (), Error = Rejection> + Copy {
    let (first, second) = LINK_PATH
        .strip_prefix('/')
        .and_then(|path| path.split_once('/'))
        .expect("the link path has two segments");
    warp::path(first)
        .and(warp::path(second))
        .and(warp::path::end())
}

/// The JSON refusal of a link the server has no slot for; the probe retries with backoff.
fn refuse(full: Full) -> warp::reply::Response {
    let (status, message) = match full {
        Full::Address => (
            StatusCode::TOO_MANY_REQUESTS,
            "too many probe links from this address",
        ),
        Full::Server => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the server holds as many probe links as it may",
        ),
    };
    let body = warp::reply::json(&serde_json::json!({ "Error": message }));
    let reply = warp::reply::with_status(body, status);
    warp::reply::with_header(reply, "retry-after", "10").into_response()
}
