//! GET /operation?id=: the operation with **every** one of its results, as the original answered
//! it and as the original frontend's "Descargar resultados" button saves it.
//!
//! An operation can hold millions of results, so the body is never built in memory: a task reads
//! the results from the store one page at a time and hands each page, serialised, to the
//! response through a channel of [`CHUNKS_AHEAD`] chunks (a page ends at [`PAGE_BYTES`] of
//! results, so a chunk weighs at most that plus one result). A slow client slows the task down
//! (the channel is full) instead of making the server buffer; a client that goes away ends it.

use super::error::ApiError;
use super::operations::{find, PAGE_BYTES};
use super::replies::{self, ErrorBody};
use crate::domain::OperationId;
use crate::state::AppState;
use crate::store::{MeasurementResult, Operation, PageLimit, Store};
use bytes::Bytes;
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::Instrument;
use utoipa::IntoParams;
use warp::http::header::{HeaderValue, CONTENT_TYPE};
use warp::Reply;

/// Results read from the store, and sent as one chunk of the body, at a time (fewer when they
/// reach [`PAGE_BYTES`]).
pub const STREAM_PAGE: usize = 100;
/// What one read of the download takes from the store.
const PAGE: PageLimit = PageLimit {
    count: STREAM_PAGE,
    bytes: PAGE_BYTES,
};
/// Chunks serialised ahead of what the client has read: what bounds the memory of a download.
const CHUNKS_AHEAD: usize = 2;

type Chunk = Result<Bytes, std::io::Error>;

/// The query of GET /operation.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperationQuery {
    /// Operation identifier
    #[param(required = true, value_type = String)]
    id: Option<String>,
}

/// GET /operation?id= : 200 with the operation and all its results, streamed (a missing or
/// malformed `id` names no operation: 404, as the original).
//
// The operation and the first page are read before the status is sent, so an unknown id is
/// still a 404 and a store outage a 503. A store failure after that can no longer change the
/// status: the body is cut off (no final chunk), which every HTTP client reports as an error,
/// never as a complete but short array.
#[utoipa::path(
    get, path = "/operation", tag = "operations", operation_id = "operation_with_results",
    summary = "An operation with every one of its results",
    params(OperationQuery),
    responses(
        (status = 200, description = "The operation and all its results, streamed page by page (each page at most 100 results, ending once their content and error text reach 4 MiB)", body = replies::Operation),
        (status = 404, description = "No such operation", body = ErrorBody),
    )
)]
#[tracing::instrument(name = "download", skip_all, fields(operation = query.id.as_deref()))]
pub async fn get(
    state: AppState,
    query: OperationQuery,
) -> Result<warp::reply::Response, ApiError> {
    let operation = find(&state, query.id.as_deref()).await?;
    let first = state.store.results(operation.id, None, PAGE).await?;
    let (chunks, mut body) = mpsc::channel::<Chunk>(CHUNKS_AHEAD);
    let producer = produce(
        state.store.clone(),
        opening(&operation),
        operation.id,
        first,
        chunks,
    );
    tokio::spawn(producer.in_current_span());
    let stream = futures::stream::poll_fn(move |cx| body.poll_recv(cx));
    let mut response = warp::reply::stream(stream).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// The operation's JSON up to the opening bracket of its `results` array.
fn opening(operation: &Operation) -> Vec<u8> {
    let mut json =
        serde_json::to_vec(&replies::Operation::from(operation)).expect("an operation serialises");
    // The view is a non-empty object without `results`: replace its closing brace.
    json.pop();
    json.extend_from_slice(br#","results":["#);
    json
}

/// Sends `opening`, then every result page by page, then the closing `]}`.
async fn produce(
    store: Arc<dyn Store>,
    opening: Vec<u8>,
    operation: OperationId,
    first: Vec<MeasurementResult>,
    chunks: mpsc::Sender<Chunk>,
) {
    let mut chunk = opening;
    let mut page = first;
    let mut separator: &[u8] = b"";
    loop {
        let mut weight = 0;
        for result in &page {
            chunk.extend_from_slice(separator);
            serde_json::to_writer(&mut chunk, &replies::MeasurementResult::from(result))
                .expect("a result always serialises");
            separator = b",";
            weight += result.weight();
        }
        // A page that ended at its byte bound is followed by another, possibly empty.
        let last_page = page.len() < STREAM_PAGE && weight < PAGE_BYTES;
        if last_page {
            chunk.extend_from_slice(b"]}");
        }
        if chunks.send(Ok(Bytes::from(chunk))).await.is_err() || last_page {
            return; // done, or the client went away
        }
        chunk = Vec::new();
        let after = page.last().map(|r| r.id);
        page = match store.results(operation, after, PAGE).await {
            Ok(next) => next,
            Err(error) => {
                tracing::error!(%error, "results download cut off: store failed");
                let _ = chunks.send(Err(std::io::Error::other(error))).await;
                return;
            }
        };
    }
}
