//! GET /operations/{id}/stream: an operation's progress and results as Server-Sent Events,
//! until it is over (docs/api.md, "Live results").
//!
//! Each stream is a task that reads the store once a second ([`events`]): progress counts, and
//! the results past its cursor that are settled (see [`crate::operations::tail`]). Reading the
//! store rather than listening to this instance's probe links is what makes a stream whole
//! whatever instance took the results in. Memory is bounded per stream (one page of results and
//! [`EVENTS_AHEAD`] events) and per instance (`PLADMED_MAX_STREAMS` streams).

mod events;

use super::error::ApiError;
use super::openapi::BAD_REQUEST;
use super::operations::find;
use super::replies::ErrorBody;
use crate::config::StorageSettings;
use crate::domain::ResultId;
use crate::operations::tail::{EMBEDDED_HORIZON, MONGO_HORIZON};
use crate::operations::ResultTail;
use crate::state::AppState;
use std::sync::Arc;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use warp::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use warp::Reply;

/// Events (each one chunk of the body) written ahead of what the client has read.
const EVENTS_AHEAD: usize = 8;
/// Seconds a client turned away for the stream cap is told to wait.
const RETRY_AFTER_S: u64 = 5;

/// The streams of one instance: how many may be open, and the signal that ends them at
/// shutdown (a stream would otherwise hold its connection, and the shutdown, until it ends).
#[derive(Clone)]
pub struct Streams {
    permits: Arc<Semaphore>,
    closing: CancellationToken,
}

impl Streams {
    /// At most `max` streams open at once.
    pub fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
            closing: CancellationToken::new(),
        }
    }

    /// Ends every open stream (without an `end` event: clients reconnect elsewhere with
    /// `Last-Event-ID`) and refuses new ones.
    pub fn close(&self) {
        self.closing.cancel();
        self.permits.close();
    }
}

/// `Last-Event-ID`, when given: the cursor of the last result the client has.
fn last_event_id(raw: Option<String>) -> Result<Option<ResultId>, ApiError> {
    raw.map(|raw| {
        raw.trim().parse().map_err(|_| {
            ApiError::BadRequest(format!(
                "Last-Event-ID: {:?} is not a result cursor (24 hex digits)",
                probe_protocol::params::echo(&raw)
            ))
        })
    })
    .transpose()
}

/// GET /operations/{id}/stream: 200 `text/event-stream`, open until the operation is over.
#[utoipa::path(
    get, path = "/operations/{id}/stream", tag = "operations", operation_id = "operation_stream",
    summary = "An operation's progress and results as Server-Sent Events, until it is over",
    description = "Events: `progress` (counts), `result` (one result as in GET /operations/{id}/results, `id:` its cursor), `end` (reason and counts); a `: keep-alive` comment every 15 s of silence. Send `Last-Event-ID` to resume after the last result received. See docs/api.md.",
    params(
        ("id" = String, Path, description = "Operation identifier"),
        ("Last-Event-ID" = Option<String>, Header, description = "Cursor of the last result received: the stream resumes after it"),
    ),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        (status = 400, description = BAD_REQUEST, body = ErrorBody),
        (status = 404, description = "No such operation", body = ErrorBody),
        (status = 503, description = "Too many streams open on this instance (see Retry-After), or the store is unavailable", body = ErrorBody),
    )
)]
#[tracing::instrument(name = "stream", skip_all, fields(operation = %raw_id))]
pub async fn stream(
    raw_id: String,
    state: AppState,
    last_event_id: Option<String>,
) -> Result<warp::reply::Response, ApiError> {
    let operation = find(&state, Some(&raw_id)).await?;
    let after = self::last_event_id(last_event_id)?;
    let permit = state
        .streams
        .permits
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Busy {
            message: "too many live streams open on this instance (PLADMED_MAX_STREAMS)".into(),
            retry_after_s: RETRY_AFTER_S,
        })?;
    // Read before the status is sent, so that a store outage is still a 503.
    let progress = state.store.progress(operation.id).await?;
    let horizon = match state.settings.storage {
        StorageSettings::Mongo { .. } => MONGO_HORIZON,
        StorageSettings::Embedded { .. } => EMBEDDED_HORIZON,
    };
    let (chunks, mut body) = mpsc::channel(EVENTS_AHEAD);
    let producer = events::Producer {
        store: state.store.clone(),
        tail: ResultTail::new(operation.id, after, horizon),
        ends_at: operation.ends_at(),
        horizon,
        chunks,
        closing: state.streams.closing.clone(),
    };
    tokio::spawn(
        async move {
            producer.run(progress).await;
            drop(permit);
        }
        .in_current_span(),
    );
    let stream = futures::stream::poll_fn(move |cx| body.poll_recv(cx));
    let mut response = warp::reply::stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}
