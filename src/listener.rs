//! The HTTP accept loop: warp's filters served by hyper with the timeouts warp's own server
//! leaves off, so that a slow client (slow-loris) cannot hold a connection for free.
//!
//! - HTTP/1.1 only. Serving HTTP/2 as well meant sniffing the first bytes for its preface, and
//!   that wait had no timeout: a socket that sent nothing, or half a preface, stayed open
//!   forever. Nothing needs HTTP/2 here: probes speak WebSocket over HTTP/1.1 and nginx speaks
//!   HTTP/1.1 to its upstreams (browsers may still use HTTP/2 up to the proxy).
//! - Header timeout: a connection that has not sent a complete request head within
//!   `PLADMED_HEADER_TIMEOUT_S` is closed, counted from the accept (so a silent socket is
//!   closed too) and again between keep-alive requests.
//! - Request timeout: a request whose body is not read and answered within
//!   `PLADMED_REQUEST_TIMEOUT_S` gets 408. WebSocket upgrades answer at once; the link that
//!   follows has its own limits (`ws`).
//! - Requests under `/socket.io/` go to the original probes' Socket.IO link (`legacy`), the
//!   rest to warp's filters; both under the same timeouts.

use crate::client::{ClientAddr, MalformedForwarding};
use crate::config::Settings;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;
use tracing::Instrument;
use warp::http::StatusCode;
use warp::{Filter, Reply};

/// The client's address: the TCP peer, or the address a trusted proxy forwarded (`client`).
/// `None` only outside this server, e.g. in `warp::test`.
pub fn client() -> impl Filter<Extract = (Option<ClientAddr>,), Error = Infallible> + Clone {
    warp::ext::optional::<ClientAddr>()
}

/// Any response body: warp's or the Socket.IO service's.
type AnyBody = UnsyncBoxBody<bytes::Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `filter` on `listener` until `stop` resolves, then stops accepting and waits for
/// the open HTTP connections to finish (upgraded WebSockets are no longer HTTP and are not
/// waited for here).
pub async fn serve<F>(
    listener: TcpListener,
    filter: F,
    legacy: crate::legacy::Service,
    settings: &Settings,
    stop: impl Future<Output = ()>,
) where
    F: Filter + Clone + Send + Sync + 'static,
    F::Extract: Reply,
{
    let connections = TaskTracker::new();
    let stopping = CancellationToken::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Probe links carry small frames (acks, operations): never hold one back for Nagle.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.limits.header_timeout)
            .serve_connection(
                TokioIo::new(stream),
                request_service(filter.clone(), legacy.clone(), settings, peer),
            )
            .with_upgrades();
        let stopping = stopping.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = stopping.cancelled() => {
                    // Finish the request in progress, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = ended {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.close();
    stopping.cancel();
    connections.wait().await;
}

/// The service for one connection from `peer`: attributes each request to its client, logs
/// under that client, and bounds the time to answer.
fn request_service<F>(
    filter: F,
    legacy: crate::legacy::Service,
    settings: &Settings,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = hyper::Response<AnyBody>,
    Error = Infallible,
    Future = impl Future<Output = Result<hyper::Response<AnyBody>, Infallible>> + Send,
> + Send
where
    F: Filter + Clone + Send + Sync + 'static,
    F::Extract: Reply,
{
    let service = warp::service(filter);
    let proxies = settings.trusted_proxies.clone();
    let request_timeout = settings.limits.request_timeout;
    hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let client = proxies.client(peer.ip(), request.headers());
        let answer = client.map(|client| {
            request.extensions_mut().insert(client);
            let span = tracing::info_span!("request", %client);
            let answer: std::pin::Pin<Box<dyn Future<Output = hyper::Response<AnyBody>> + Send>> =
                if crate::legacy::owns(request.uri().path()) {
                    let answer = hyper::service::Service::call(&legacy, request);
                    Box::pin(async move {
                        match answer.await {
                            Ok(response) => {
                                response.map(|body| body.map_err(Into::into).boxed_unsync())
                            }
                            Err(never) => match never {},
                        }
                    })
                } else {
                    let answer = service.clone().call(request);
                    Box::pin(async move {
                        match answer.await {
                            Ok(response) => boxed(response),
                            Err(never) => match never {},
                        }
                    })
                };
            answer.instrument(span)
        });
        async move {
            let answer = match answer {
                Ok(answer) => answer,
                Err(malformed) => return Ok(boxed(bad_forwarding(&malformed))),
            };
            match tokio::time::timeout(request_timeout, answer).await {
                Ok(response) => Ok(response),
                Err(_) => Ok(boxed(too_slow(request_timeout))),
            }
        }
    })
}

fn boxed(response: warp::reply::Response) -> hyper::Response<AnyBody> {
    response.map(|body| body.map_err(Into::into).boxed_unsync())
}

/// 400 naming the header: a trusted proxy that garbles it is misconfigured, and guessing the
/// client would put it under someone else's quota (docs/deployment.md).
fn bad_forwarding(malformed: &MalformedForwarding) -> warp::reply::Response {
    tracing::debug!(%malformed, "request refused");
    let body = warp::reply::json(&serde_json::json!({ "Error": malformed.to_string() }));
    warp::reply::with_status(body, StatusCode::BAD_REQUEST).into_response()
}

/// 408: the limit covers the whole exchange, receiving the request and answering it, so the
/// message says both (a slow client or a busy server).
fn too_slow(limit: Duration) -> warp::reply::Response {
    let message = format!(
        "request not received and answered within {} s; send it again",
        limit.as_secs()
    );
    let body = warp::reply::json(&serde_json::json!({ "Error": message }));
    warp::reply::with_status(body, StatusCode::REQUEST_TIMEOUT).into_response()
}
