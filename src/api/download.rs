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
use super::views;
use crate::domain::OperationId;
use crate::state::AppState;
use crate::store::{MeasurementResult, Operation, PageLimit, Store};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use warp::http::header::{HeaderValue, CONTENT_TYPE};
use warp::{Rejection, Reply};

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

/// GET /operation?id= : 200 with the operation and all its results, streamed.
///
/// The operation and the first page are read before the status is sent, so an unknown id is
/// still a 404 and a store outage a 503. A store failure after that can no longer change the
/// status: the body is cut off (no final chunk), which every HTTP client reports as an error,
/// never as a complete but short array.
pub async fn get(
    state: AppState,
    query: HashMap<String, String>,
) -> Result<warp::reply::Response, Rejection> {
    let operation = find(&state, query.get("id").map(String::as_str)).await?;
    let first = state
        .store
        .results(operation.id, None, PAGE)
        .await
        .map_err(ApiError::from)?;
    let (chunks, mut body) = mpsc::channel::<Chunk>(CHUNKS_AHEAD);
    tokio::spawn(produce(
        state.store.clone(),
        opening(&operation),
        operation.id,
        first,
        chunks,
    ));
    let stream = futures::stream::poll_fn(move |cx| body.poll_recv(cx));
    let mut response = warp::reply::stream(stream).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// The operation's JSON up to the opening bracket of its `results` array.
fn opening(operation: &Operation) -> Vec<u8> {
    let mut json = views::operation(operation).to_string().into_bytes();
    // The view is a non-empty object: replace its closing brace.
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
            serde_json::to_writer(&mut chunk, &views::result(result))
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
                tracing::error!(%operation, %error, "results download cut off: store failed");
                let _ = chunks.send(Err(std::io::Error::other(error))).await;
                return;
            }
        };
    }
}
