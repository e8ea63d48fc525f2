//! The OpenAPI 3 document of every route, served at GET /openapi.json.
//!
//! Schemas are derived from the types in [`schemas`] (and [`crate::health::HealthReport`]);
//! the paths are listed here, one [`Endpoint`] chain each. `tests/api/openapi.rs` checks the document
//! against the live router in both directions, so a route added to one and not the other fails.

mod endpoint;
pub mod schemas;

use crate::health::{CheckMessages, CheckStatus, HealthReport};
use endpoint::{endpoint, enumeration, integer, string, Endpoint, USER_BEARER, USER_HEADER};
use std::sync::OnceLock;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::Paths;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pladmed",
        description = "Coordinator of distributed network measurements: accounts, probes, operations and their results; the probe link; monitoring.",
        license(name = "MIT")
    ),
    components(schemas(
        schemas::Credentials,
        schemas::AccessToken,
        schemas::User,
        schemas::CreditGrant,
        schemas::Location,
        schemas::ProbeRegistration,
        schemas::Probe,
        schemas::OperationKind,
        schemas::ResultFormat,
        schemas::OperationRequest,
        schemas::ProbeRef,
        schemas::MeasurementResult,
        schemas::Operation,
        schemas::ResultsPage,
        schemas::ErrorBody,
        schemas::Liveness,
        HealthReport,
        CheckStatus,
        CheckMessages,
    ))
)]
struct Components;

/// The document as JSON, built once.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| document().to_json().expect("the document serialises"))
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = Components::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_string();
    document.paths = paths();
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        USER_HEADER,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("access_token"))),
    );
    components.add_security_scheme(
        USER_BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    document
}

fn paths() -> Paths {
    use HttpMethod::{Delete, Get, Post};
    let mut paths = Paths::new();
    let mut add = |method: HttpMethod, path: &str, endpoint: Endpoint| {
        paths.add_path_operation(path, vec![method], endpoint.0.build());
    };
    add(
        Post,
        "/register",
        endpoint("accounts", "Create an account")
            .body("Credentials")
            .replies(201, "The account", "User")
            .bad_request()
            .rate_limited("sign-ins and registrations")
            .hashing_busy(),
    );
    add(
        Post,
        "/login",
        endpoint("accounts", "Sign in")
            .body("Credentials")
            .replies(200, "A user token", "AccessToken")
            .bad_request()
            .fails(404, "Wrong e-mail address or password")
            .rate_limited("sign-ins and registrations")
            .hashing_busy(),
    );
    add(
        Get,
        "/users/me",
        endpoint("accounts", "The signed-in account")
            .user()
            .replies(200, "The account", "User"),
    );
    add(
        Post,
        "/credits",
        endpoint("accounts", "Add credits to an account (superuser)")
            .user()
            .body("CreditGrant")
            .replies(200, "The account, credits added", "User")
            .bad_request()
            .fails(403, "Not a superuser")
            .fails(404, "No such user"),
    );
    add(
        Post,
        "/probes",
        endpoint("probes", "Register a probe")
            .user()
            .body("ProbeRegistration")
            .replies(201, "The probe with its token", "Probe")
            .bad_request()
            .fails(
                403,
                "The account has `PLADMED_MAX_PROBES_PER_USER` probes already",
            ),
    );
    add(
        Get,
        "/probes",
        endpoint("probes", "Every probe, public fields")
            .header(
                "If-None-Match",
                "The `ETag` of a list read before: 304 if the list is still the same",
            )
            .replies_array(200, "The probes (with `ETag`)", "Probe")
            .empty(304, "The list is still the one `If-None-Match` names"),
    );
    add(
        Get,
        "/probes/me",
        endpoint("probes", "The caller's probes with their tokens")
            .user()
            .replies_array(200, "The probes", "Probe"),
    );
    add(
        Post,
        "/probes/{id}/token",
        endpoint(
            "probes",
            "Revoke the probe's tokens and issue a new one (owner); a link using an old token is closed with 4001",
        )
        .user()
        .path_param("id", "Probe identifier")
        .replies(200, "The probe with its new token", "Probe")
        .fails(403, "Not the probe's owner")
        .fails(404, "No such probe"),
    );
    add(
        Delete,
        "/probes/{id}",
        endpoint(
            "probes",
            "Remove a probe (owner): no longer listed or assignable, its results stay; its link is closed with 4001",
        )
        .user()
        .path_param("id", "Probe identifier")
        .empty(204, "Removed")
        .fails(403, "Not the probe's owner")
        .fails(404, "No such probe"),
    );
    for kind in ["traceroute", "ping", "dns"] {
        let summary = format!("Create a {kind} operation");
        add(
            Post,
            &format!("/{kind}"),
            endpoint("operations", &summary)
                .user()
                .body("OperationRequest")
                .replies(
                    201,
                    "The operation, paid for and sent to its probes",
                    "Operation",
                )
                .bad_request()
                .fails(
                    404,
                    "Unknown or malformed probe identifier, or none of the probes can take it",
                ),
        );
    }
    add(
        Get,
        "/operation",
        endpoint("operations", "An operation with every one of its results")
            .query("id", true, "Operation identifier", string())
            .replies(
                200,
                "The operation and all its results, streamed page by page (each page at most 100 results, ending once their content and error text reach 4 MiB)",
                "Operation",
            )
            .fails(404, "No such operation"),
    );
    add(
        Get,
        "/operations/{id}/results",
        endpoint(
            "operations",
            "A page of an operation's results: at most `limit` results, and it ends early with the result that brings their content and error text to 4 MiB (then `next` is set, and the next page may be empty)",
        )
            .path_param("id", "Operation identifier")
            .query(
                "after",
                false,
                "Cursor: the `next` of the previous page",
                string(),
            )
            .query("limit", false, "Page size", integer(1, 1000))
            .replies(200, "The page", "ResultsPage")
            .bad_request()
            .fails(404, "No such operation"),
    );
    add(
        Get,
        "/operations",
        endpoint("operations", "Every operation, without results")
            .user()
            .replies_array(200, "The operations", "Operation"),
    );
    add(
        Get,
        "/operations/me",
        endpoint("operations", "The caller's operations, without results")
            .user()
            .replies_array(200, "The operations", "Operation"),
    );
    add(
        Delete,
        "/delete_all",
        endpoint("development", "Delete every record (development mode only)")
            .empty(204, "Deleted")
            .fails(404, "Production mode"),
    );
    add(Get, "/probe/ws", probe_link());
    add(
        Get,
        "/healthz",
        endpoint("monitoring", "Liveness, for container healthchecks").replies(
            200,
            "The process serves requests",
            "Liveness",
        ),
    );
    add(
        Get,
        "/health",
        endpoint("monitoring", "Database, clock and hub checks")
            .code("PLADMED_HEALTH_CODE")
            .replies(200, "Healthy", "HealthReport")
            .replies(
                503,
                "Unhealthy: see `status` and `messages`",
                "HealthReport",
            )
            .fails(403, "Missing or wrong code"),
    );
    add(
        Get,
        "/metrics",
        endpoint("monitoring", "Counters and gauges")
            .code("PLADMED_METRICS_CODE")
            .query(
                "format",
                false,
                "Exposition format",
                enumeration(&["prometheus", "influx"]),
            )
            .text(200, "Prometheus text (default) or InfluxDB line protocol")
            .fails(400, "Unknown format")
            .fails(403, "Missing or wrong code"),
    );
    add(
        Get,
        "/openapi.json",
        endpoint("monitoring", "This document").object(200, "The OpenAPI document"),
    );
    paths
}

fn probe_link() -> Endpoint {
    endpoint(
        "probes",
        "The probe link: a WebSocket upgrade (protocol: docs/probe-protocol.md)",
    )
    .query(
        "token",
        false,
        "The probe token, unless sent as `Authorization: Bearer`",
        string(),
    )
    .header("authorization", "`Bearer PROBE_TOKEN`")
    .empty(
        101,
        "Switching to the WebSocket protocol; refusals are close frames (4001 bad token)",
    )
    .fails(
        400,
        "Not a WebSocket upgrade request, or `Sec-WebSocket-Key` missing",
    )
    .fails(
        426,
        "`Sec-WebSocket-Version` is not 13 (the reply names the supported version)",
    )
    .rate_limited("open probe links")
}
