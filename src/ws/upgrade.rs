//! The WebSocket upgrade (RFC 6455 §4.2), done here rather than by `warp::ws()` so that the
//! socket's configuration is ours. warp gives every connection tungstenite's default 128 KiB
//! read buffer, which the first read fills with zeros: an idle probe cost 138 KiB of server
//! memory (`pladmed-bench idle`). Probe frames are small, so the buffer starts small and grows
//! only while a large frame is being read.

use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use std::future::Future;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use warp::http::header::{self, HeaderMap, HeaderValue};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

/// An accepted probe socket.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Bytes read from the socket at a time; a frame larger than this grows the buffer while it is
/// read. Small messages (hello, accepted, finished) fit; a result takes a few reads. Measured
/// with `pladmed-bench idle` (10,000 probes): 2 KiB held about 4.5 KiB less per idle probe than
/// 4 KiB, and `pladmed-bench ingest` lost nothing measurable; with 2 KiB the server holds
/// 14.95 KiB per idle probe (docs/performance.md).
pub const READ_CHUNK: usize = 2 * 1024;

/// The only WebSocket version there is.
const VERSION: &str = "13";

/// A request that asked for a valid upgrade; [`Upgrade::accept`] answers it.
pub struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

/// Why a GET of the link's path is not an upgrade this server can accept.
#[derive(Debug, PartialEq, Eq)]
pub enum NotUpgrade {
    /// No `Connection: Upgrade` with `Upgrade: websocket`.
    Plain,
    /// The upgrade asks for a protocol version other than 13.
    Version,
    /// `Sec-WebSocket-Key` is missing.
    Key,
    /// The connection cannot be taken over (HTTP/2, or a test harness).
    Unavailable,
}

/// Reads the upgrade headers of the request; never rejects, so the route answers every
/// malformed upgrade itself, naming what is wrong.
pub fn request(
) -> impl Filter<Extract = (Result<Upgrade, NotUpgrade>,), Error = std::convert::Infallible> + Clone
{
    warp::header::headers_cloned()
        .and(warp::ext::optional::<OnUpgrade>())
        .map(|headers: HeaderMap, on_upgrade: Option<OnUpgrade>| check(&headers, on_upgrade))
}

fn check(headers: &HeaderMap, on_upgrade: Option<OnUpgrade>) -> Result<Upgrade, NotUpgrade> {
    let lists = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|item| item.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if !lists(header::CONNECTION, "upgrade") || !lists(header::UPGRADE, "websocket") {
        return Err(NotUpgrade::Plain);
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(NotUpgrade::Version);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .cloned()
        .ok_or(NotUpgrade::Key)?;
    let on_upgrade = on_upgrade.ok_or(NotUpgrade::Unavailable)?;
    Ok(Upgrade { key, on_upgrade })
}

impl Upgrade {
    /// Answers 101 and runs `serve` on the socket once the connection has been handed over.
    /// Frames and messages above `max_frame_bytes` fail the read (close 1009).
    pub fn accept<F, S>(self, max_frame_bytes: usize, serve: S) -> Response
    where
        S: FnOnce(Socket) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_CHUNK)
            .max_message_size(Some(max_frame_bytes))
            .max_frame_size(Some(max_frame_bytes));
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    serve(WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await)
                        .await
                }
                Err(error) => tracing::debug!(%error, "WebSocket upgrade did not complete"),
            }
        });
        let accept = derive_accept_key(self.key.as_bytes());
        let mut response = Response::default();
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

impl NotUpgrade {
    /// The error reply: 426 names the version to use, the rest are 400 naming the header.
    pub fn reply(self) -> Response {
        let (status, message) = match self {
            NotUpgrade::Plain => (
                StatusCode::BAD_REQUEST,
                "expected a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket)",
            ),
            NotUpgrade::Version => (
                StatusCode::UPGRADE_REQUIRED,
                "Sec-WebSocket-Version: only version 13 is supported",
            ),
            NotUpgrade::Key => (StatusCode::BAD_REQUEST, "Sec-WebSocket-Key: missing"),
            NotUpgrade::Unavailable => (
                StatusCode::BAD_REQUEST,
                "this connection cannot be upgraded (HTTP/1.1 is required)",
            ),
        };
        let body = warp::reply::json(&serde_json::json!({ "Error": message }));
        let mut response = warp::reply::with_status(body, status).into_response();
        if self == NotUpgrade::Version {
            response.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static(VERSION),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    const UPGRADE: [(&str, &str); 3] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
        ("sec-websocket-version", "13"),
    ];

    fn refusal(pairs: &[(&'static str, &'static str)]) -> NotUpgrade {
        match check(&headers(pairs), None) {
            Err(refusal) => refusal,
            Ok(_) => panic!("accepted without an upgradable connection"),
        }
    }

    #[test]
    fn a_plain_get_is_not_an_upgrade() {
        assert_eq!(refusal(&[]), NotUpgrade::Plain);
        assert_eq!(
            refusal(&[("connection", "keep-alive"), ("upgrade", "websocket")]),
            NotUpgrade::Plain
        );
        assert_eq!(
            refusal(&[("connection", "upgrade"), ("upgrade", "h2c")]),
            NotUpgrade::Plain
        );
    }

    #[test]
    fn header_tokens_are_case_insensitive_list_items() {
        let mut pairs = UPGRADE.to_vec();
        pairs.push(("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(refusal(&pairs), NotUpgrade::Unavailable);
    }

    #[test]
    fn the_version_and_the_key_are_required() {
        assert_eq!(refusal(&UPGRADE[..2]), NotUpgrade::Version);
        let mut old = UPGRADE[..2].to_vec();
        old.push(("sec-websocket-version", "8"));
        assert_eq!(refusal(&old), NotUpgrade::Version);
        assert_eq!(refusal(&UPGRADE), NotUpgrade::Key);
    }

    #[test]
    fn a_wrong_version_names_the_supported_one() {
        let reply = NotUpgrade::Version.reply();
        assert_eq!(reply.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(reply.headers()[header::SEC_WEBSOCKET_VERSION], "13");
    }
}
