//! The probe link's entry in the document. It is served by [`crate::ws`], as a WebSocket
//! upgrade rather than a REST handler, so its description lives here.

/// Documents GET /probe/ws; never called.
#[utoipa::path(
    get, path = "/probe/ws", tag = "probes",
    summary = "The probe link: a WebSocket upgrade (protocol: docs/probe-protocol.md)",
    params(
        ("token" = Option<String>, Query, description = "The probe token, unless sent as `Authorization: Bearer`"),
        ("authorization" = Option<String>, Header, nullable = false, description = "`Bearer PROBE_TOKEN`"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol; refusals are close frames (4001 bad token)"),
        (status = 400, description = "Not a WebSocket upgrade request, or `Sec-WebSocket-Key` missing", body = crate::api::replies::ErrorBody),
        (status = 426, description = "`Sec-WebSocket-Version` is not 13 (the reply names the supported version)", body = crate::api::replies::ErrorBody),
        (status = 429, description = "Too many open probe links from this address; see `Retry-After`", body = crate::api::replies::ErrorBody),
    )
)]
pub fn probe_link() {}
