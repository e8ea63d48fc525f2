//! The OpenAPI document against the live router: the same routes in both, nothing else served
//! on those paths, and replies shaped as their schemas say.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use testkit::*;

/// Every route the server answers. The document and the router are both checked against this
/// one list: a route added to the router must be added here, and then the document must
/// describe it.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/register"),
    ("POST", "/login"),
    ("GET", "/users/me"),
    ("POST", "/credits"),
    ("POST", "/probes"),
    ("GET", "/probes"),
    ("GET", "/probes/me"),
    ("POST", "/probes/{id}/token"),
    ("DELETE", "/probes/{id}"),
    ("POST", "/traceroute"),
    ("POST", "/ping"),
    ("POST", "/dns"),
    ("GET", "/operation"),
    ("GET", "/operations/{id}/results"),
    ("GET", "/operations/{id}/stream"),
    ("GET", "/operations"),
    ("GET", "/operations/me"),
    ("DELETE", "/delete_all"),
    ("GET", "/probe/ws"),
    ("GET", "/healthz"),
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// Methods a route could be added under (OPTIONS is CORS preflight, HEAD follows GET).
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn document(app: &TestApp) -> Value {
    let (status, document) = app.get("/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    document
}

fn documented_routes(document: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if METHODS.contains(&method.to_uppercase().as_str()) {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// What the router answers when no route matches: 405 if the path exists under another method,
/// else 404 `Not found` (handlers' own 404s name what is missing).
fn unrouted(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND && body == &json!({"Error": "Not found"}))
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "000000000000000000000000")
}

#[tokio::test]
async fn the_document_describes_exactly_the_listed_routes() {
    let app = spawn_app().await;
    let document = document(&app).await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented_routes(&document), expected);
    app.stop().await;
}

/// The generated document, as committed: pretty JSON with a final newline.
fn generated() -> String {
    let document: Value = serde_json::from_str(pladmed::api::openapi::document_json()).unwrap();
    serde_json::to_string_pretty(&document).unwrap() + "\n"
}

fn committed_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json")
}

/// `docs/openapi.json` is the document generated from the code, for readers and tools without
/// a running server (scripts/schemathesis.sh fuzzes the server against it).
#[test]
fn the_committed_document_is_the_generated_one() {
    let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
    assert!(
        committed == generated(),
        "docs/openapi.json is stale: run cargo test --test api write_openapi_json -- --ignored"
    );
}

/// Rewrites `docs/openapi.json` from the code:
/// `cargo test --test api write_openapi_json -- --ignored`.
#[test]
#[ignore = "writes docs/openapi.json; run it after changing the API"]
fn write_openapi_json() {
    std::fs::write(committed_path(), generated()).unwrap();
}

/// GET /openapi.json serves the generated document.
#[tokio::test]
async fn the_served_document_is_the_generated_one() {
    let app = spawn_app().await;
    let served = serde_json::to_string_pretty(&document(&app).await).unwrap() + "\n";
    assert!(
        served == generated(),
        "GET /openapi.json differs from the generated document"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_router_serves_every_listed_route_and_no_other_method_on_those_paths() {
    let app = spawn_app().await;
    let paths: BTreeSet<&str> = ROUTES.iter().map(|(_, p)| *p).collect();
    for path in paths {
        for method in METHODS {
            let listed = ROUTES.contains(&(*method, path));
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let (status, body) = app.call(method.clone(), &concrete(path), None, None).await;
            assert_eq!(
                !unrouted(status, &body),
                listed,
                "{method} {path}: {status} {body}"
            );
        }
    }
    app.stop().await;
}

/// Checks that `value` has every required property of `schema` and no undocumented one.
fn assert_shape(document: &Value, schema: &str, value: &Value) {
    let definition = &document["components"]["schemas"][schema];
    let properties: BTreeSet<&str> = definition["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("schema {schema} has properties"))
        .keys()
        .map(String::as_str)
        .collect();
    let required: BTreeSet<&str> = definition["required"]
        .as_array()
        .map(|r| r.iter().map(|v| v.as_str().unwrap()).collect())
        .unwrap_or_default();
    let present: BTreeSet<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("{schema}: {value} is an object"))
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        present.is_subset(&properties),
        "{schema}: undocumented fields in {value}"
    );
    assert!(
        required.is_subset(&present),
        "{schema}: required fields missing in {value}"
    );
}

#[tokio::test]
async fn replies_have_the_documented_shapes() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let (_, user) = app
        .post_credentials("/register", "shape@example.org", PASSWORD)
        .await;
    assert_shape(&document, "User", &user);
    let (_, token) = app
        .post_credentials("/login", "shape@example.org", PASSWORD)
        .await;
    assert_shape(&document, "AccessToken", &token);
    let researcher = app.funded_user("shape-researcher@example.org", 1000).await;
    let (probe_id, probe_token) = app.probe(&researcher).await;
    let _probe = app.connect(&probe_token, 1000).await;
    for path in ["/probes", "/probes/me"] {
        let (_, probes) = app.get(path, Some(&researcher.token)).await;
        assert_shape(&document, "Probe", &probes[0]);
    }
    let operation = app
        .create_ping(&researcher.token, &probe_id, ping_params(5))
        .await;
    assert_shape(&document, "Operation", &operation);
    let id = operation["_id"].as_str().unwrap();
    let (_, fetched) = app.get(&format!("/operation?id={id}"), None).await;
    assert_shape(&document, "Operation", &fetched);
    let (_, listed) = app.get("/operations", Some(&researcher.token)).await;
    assert_shape(&document, "Operation", &listed[0]);
    let (_, page) = app.get(&format!("/operations/{id}/results"), None).await;
    assert_shape(&document, "ResultsPage", &page);
    let (_, error) = app.get("/users/me", None).await;
    assert_shape(&document, "ErrorBody", &error);
    let (_, health) = app.get("/health", None).await;
    assert_shape(&document, "HealthReport", &health);
    assert_shape(&document, "CheckStatus", &health["status"][0]);
    assert_shape(&document, "CheckMessages", &health["messages"][0]);
    let (_, alive) = app.get("/healthz", None).await;
    assert_shape(&document, "Liveness", &alive);
    app.stop().await;
}

/// The schemas come from the real types: an operation's `result_format` is the protocol's
/// `ResultFormat` (no warts), a result's `format` its `ContentFormat` (warts included).
#[test]
fn enums_are_the_protocol_types() {
    let document: Value = serde_json::from_str(pladmed::api::openapi::document_json()).unwrap();
    let schemas = &document["components"]["schemas"];
    let values = |schema: &str| schemas[schema]["enum"].clone();
    assert_eq!(
        values("OperationKind"),
        json!(["traceroute", "ping", "dns"])
    );
    assert_eq!(values("ResultFormat"), json!(["json", "dump", "text"]));
    assert_eq!(
        values("ContentFormat"),
        json!(["json", "dump", "text", "warts"])
    );
    let format = &schemas["MeasurementResult"]["properties"]["format"];
    assert_eq!(
        format["$ref"], "#/components/schemas/ContentFormat",
        "{format}"
    );
}
