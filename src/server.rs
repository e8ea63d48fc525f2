//! The HTTP accept loop: warp's filters served by hyper with the timeouts warp's own server
//! leaves off, so that a slow client (slow-loris) cannot hold a connection for free.
//!
//! - Header timeout: a connection that has not sent a complete request head within
//!   `PLADMED_HEADER_TIMEOUT_S` is closed (also between keep-alive requests).
//! - Request timeout: a request whose body is not read and answered within
//!   `PLADMED_REQUEST_TIMEOUT_S` gets 408. WebSocket upgrades answer at once; the link that
//!   follows has its own limits (`ws`).

use crate::config::Limits;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_service::Service;
use warp::http::StatusCode;
use warp::{Filter, Reply};

/// The client's address, as the TCP connection shows it.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The client's address (`None` only outside this server, e.g. in `warp::test`).
pub fn peer() -> impl Filter<Extract = (Option<SocketAddr>,), Error = Infallible> + Clone {
    warp::ext::optional::<PeerAddr>().map(|peer: Option<PeerAddr>| peer.map(|p| p.0))
}

/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `filter` on `listener` until `stop` resolves, then stops accepting and waits for
/// the open HTTP connections to finish (upgraded WebSockets are no longer HTTP and are not
/// waited for here).
pub async fn serve<F>(
    listener: TcpListener,
    filter: F,
    limits: &Limits,
    stop: impl Future<Output = ()>,
) where
    F: Filter + Clone + Send + Sync + 'static,
    F::Extract: Reply,
{
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    let (header_timeout, request_timeout) = (limits.header_timeout, limits.request_timeout);
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
        let service = warp::service(filter.clone());
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(PeerAddr(peer));
            let answer = service.clone().call(request);
            async move {
                match tokio::time::timeout(request_timeout, answer).await {
                    Ok(response) => response,
                    Err(_) => Ok(too_slow(request_timeout)),
                }
            }
        });
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(error) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

fn too_slow(limit: Duration) -> warp::reply::Response {
    let message = format!("request not received within {} s", limit.as_secs());
    let body = warp::reply::json(&serde_json::json!({ "Error": message }));
    warp::reply::with_status(body, StatusCode::REQUEST_TIMEOUT).into_response()
}
