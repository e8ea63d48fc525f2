//! The OpenAPI 3 document, served at GET /openapi.json and committed as docs/openapi.json.
//!
//! Derived from the code: each handler's `#[utoipa::path]` gives its route, and the request and
//! reply types (`super::replies`, the handlers' bodies and queries, the protocol's enums) give
//! the schemas. What every route shares is added once by [`Shared`]. `tests/api/openapi.rs`
//! checks the document against the live router and the committed file against the document.

pub mod link;

use super::{accounts, development, download, monitoring, operations, probes, replies, stream};
use std::sync::OnceLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// 400's description: every validation message names the field.
pub const BAD_REQUEST: &str = "Invalid request; the message names the field";
/// 503's description where a password is hashed.
pub const HASHING_BUSY: &str = "The store is unavailable, or too many password checks are in \
    progress (`PLADMED_HASH_CONCURRENCY`; see `Retry-After`); retry later";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pladmed",
        description = "Coordinator of distributed network measurements: accounts, probes, operations and their results; the probe link; monitoring.",
        license(name = "MIT")
    ),
    paths(
        accounts::register,
        accounts::login,
        accounts::me,
        accounts::grant,
        probes::register,
        probes::list,
        probes::mine,
        probes::new_token,
        probes::remove,
        operations::create_traceroute,
        operations::create_ping,
        operations::create_dns,
        download::get,
        operations::results,
        stream::stream,
        operations::list_all,
        operations::list_mine,
        development::delete_all,
        link::probe_link,
        monitoring::healthz,
        monitoring::health,
        monitoring::metrics,
        monitoring::openapi_json,
    ),
    components(schemas(replies::ErrorBody)),
    modifiers(&Shared)
)]
struct Document;

/// The document as JSON, built once.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| document().to_json().expect("the document serialises"))
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    Document::openapi()
}

/// What every route shares: the security schemes, and the errors any route may answer.
struct Shared;

impl Modify for Shared {
    fn modify(&self, document: &mut utoipa::openapi::OpenApi) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "access_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("access_token"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for item in document.paths.paths.values_mut() {
            let methods = [&mut item.get, &mut item.post, &mut item.delete];
            for operation in methods.into_iter().flatten() {
                shared_errors(operation);
            }
        }
    }
}

/// 503 on every route (the store may be down); 413 and 408 where a body is read; 401 where a
/// user token is required. A route's own description of a status is kept.
fn shared_errors(operation: &mut Operation) {
    let mut add = |status: &str, description: &str| {
        let error = ResponseBuilder::new().description(description).content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        );
        let responses = &mut operation.responses.responses;
        responses
            .entry(status.to_string())
            .or_insert_with(|| error.build().into());
    };
    add("503", "The store is unavailable; retry later");
    if operation.request_body.is_some() {
        add("413", "Body larger than 1 MiB");
        add(
            "408",
            "Request not received and answered within `PLADMED_REQUEST_TIMEOUT_S`",
        );
    }
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        add("401", "Missing or invalid user token");
    }
}
