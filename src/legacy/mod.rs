//! The original probe link: pladmed-client's Socket.IO (v5, Engine.IO 4) connection on
//! [`PATH`], so that a fleet of original probes connects unchanged (docs/legacy-probes.md).
//!
//! It is a second door to the same house: a legacy probe is admitted by the same token check
//! as a v1 probe, gets a hub mailbox like one, and its results go through the same
//! exactly-once ingest, so they are as safe as a v1 probe's. `link` is the connection's life,
//! `reports` what the probe emits, `events` the original's payloads.

mod events;
mod link;
mod reports;

use crate::state::AppState;
use socketioxide::handler::ConnectHandler;
use socketioxide::service::SocketIoService;
use socketioxide::SocketIo;
use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::Arc;
use warp::http::{Request, Response, StatusCode};

/// Where the original served Socket.IO (its default path): requests under it go to this link.
pub const PATH: &str = "/socket.io";

/// The Socket.IO service the listener hands the requests under [`PATH`].
pub type Service = SocketIoService<NotFound>;

/// What Socket.IO hands on what it does not serve under [`PATH`]: 404.
#[derive(Debug, Clone)]
pub struct NotFound;

impl<B> hyper::service::Service<Request<B>> for NotFound {
    type Response = Response<http_body_util::Empty<bytes::Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn call(&self, _: Request<B>) -> Self::Future {
        let mut response = Response::new(http_body_util::Empty::new());
        *response.status_mut() = StatusCode::NOT_FOUND;
        ready(Ok(response))
    }
}

/// The link's service. Messages are bounded like v1 frames (`PLADMED_MAX_FRAME_BYTES`).
pub fn service(state: AppState) -> Service {
    let max = state.settings.max_frame_bytes;
    let limits = &state.settings.limits;
    let slots = crate::ws::LinkSlots::new(limits.ws_per_address, limits.ws_total);
    let (service, io) = SocketIo::builder()
        .req_path(PATH)
        .connect_timeout(limits.hello_timeout)
        .max_payload(max as u64)
        .ws_max_message_size(max)
        .ws_max_frame_size(max)
        .build_with_inner_svc(NotFound);
    let running = Arc::new(link::Running::default());
    let admit = move |socket| {
        let (state, running, slots) = (state.clone(), running.clone(), slots.clone());
        async move { link::admit(state, running, &slots, socket).await }
    };
    io.ns("/", link::connected.with(admit));
    service
}

/// Whether a request path belongs to this link.
pub fn owns(path: &str) -> bool {
    path.strip_prefix(PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}
