//! The authorization matrix: every REST endpoint × every kind of caller, with the status each
//! cell must answer, and no body ever carrying another user's private data.
//!
//! Public by design (the original's behaviour, documented in docs/security.md): GET /probes
//! (owner ids, no tokens), GET /operation, GET /operations/{id}/results and GET /operations
//! (any signed-in user sees every operation). Private: e-mail addresses, password hashes,
//! user tokens and probe tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::*;

const HEALTH_CODE: &str = "health-code-health-code";
const METRICS_CODE: &str = "metrics-code-metrics-code";

/// Who calls, in the order of the matrix columns.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Anonymous,
    Owner,
    OtherUser,
    Superuser,
    Expired,
    OtherKey,
    ProbeToken,
    AlgNone,
    Hs512,
}

const CALLERS: [Caller; 9] = [
    Caller::Anonymous,
    Caller::Owner,
    Caller::OtherUser,
    Caller::Superuser,
    Caller::Expired,
    Caller::OtherKey,
    Caller::ProbeToken,
    Caller::AlgNone,
    Caller::Hs512,
];

/// User-token claims as the server issues them.
fn claims(sub: &str, exp_offset_s: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "email": "owner@example.org", "aud": "user", "iat": now, "exp": now + exp_offset_s})
}

fn signed(algorithm: Algorithm, secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// An unsigned token (`alg: none`), which a pinned verifier must refuse.
fn unsigned(claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        part(&json!({"alg": "none", "typ": "JWT"})),
        part(claims)
    )
}

struct World {
    app: TestApp,
    owner: Account,
    other: Account,
    admin: Account,
    probe_id: String,
    probe_token: String,
    /// A second probe of the owner, for the row that removes a probe.
    spare_probe_id: String,
    operation_id: String,
}

impl World {
    async fn new() -> Self {
        let app = spawn_app_with(|s| {
            s.mode = pladmed::config::Mode::Production;
            s.health_code = Some(HEALTH_CODE.into());
            s.metrics_code = Some(METRICS_CODE.into());
            s.limits.auth_rate_per_minute = 10_000;
        })
        .await;
        let owner = app.funded_user("owner@example.org", 100_000).await;
        let other = app.user("other@example.org").await;
        let admin = app.superuser("root@example.org").await;
        let (probe_id, probe_token) = app.probe(&owner).await;
        let probe = app.connect(&probe_token, 1_000_000).await;
        let op = app
            .create_ping(&owner.token, &probe_id, ping_params(5))
            .await;
        std::mem::forget(probe); // stays connected for the whole matrix
        let (spare_probe_id, _) = app.probe(&owner).await;
        Self {
            operation_id: op["_id"].as_str().unwrap().to_string(),
            app,
            owner,
            other,
            admin,
            probe_id,
            probe_token,
            spare_probe_id,
        }
    }

    fn token(&self, caller: Caller) -> Option<String> {
        match caller {
            Caller::Anonymous => None,
            Caller::Owner => Some(self.owner.token.clone()),
            Caller::OtherUser => Some(self.other.token.clone()),
            Caller::Superuser => Some(self.admin.token.clone()),
            Caller::Expired => Some(signed(
                Algorithm::HS256,
                JWT_SECRET,
                &claims(&self.owner.id, -5),
            )),
            Caller::OtherKey => Some(signed(
                Algorithm::HS256,
                "another-secret-another-secret-another",
                &claims(&self.owner.id, 3600),
            )),
            Caller::ProbeToken => Some(self.probe_token.clone()),
            Caller::AlgNone => Some(unsigned(&claims(&self.owner.id, 3600))),
            Caller::Hs512 => Some(signed(
                Algorithm::HS512,
                JWT_SECRET,
                &claims(&self.owner.id, 3600),
            )),
        }
    }

    /// Strings that only the owner may ever see.
    fn owner_secrets(&self) -> Vec<String> {
        vec![
            "owner@example.org".into(),
            self.owner.token.clone(),
            self.probe_token.clone(),
        ]
    }
}

/// Expected status of an authorized /health: 200 when healthy, 503 when a check fails.
const HEALTH_ANSWERED: u16 = 0;

fn as_expected(status: StatusCode, expected: u16) -> bool {
    match expected {
        HEALTH_ANSWERED => matches!(status.as_u16(), 200 | 503),
        code => status.as_u16() == code,
    }
}

/// One row: method, path, body and the expected status per caller (same order as `CALLERS`).
struct Row {
    method: Method,
    path: String,
    body: Option<Value>,
    expected: [u16; 9],
}

fn row(method: Method, path: &str, body: Option<Value>, expected: [u16; 9]) -> Row {
    Row {
        method,
        path: path.to_string(),
        body,
        expected,
    }
}

/// Every endpoint of docs/openapi.json except the WebSocket route, which has its own tests.
fn rows(world: &World) -> Vec<Row> {
    use Method as M;
    const PUBLIC_OK: [u16; 9] = [200; 9];
    // anonymous, owner, other, superuser, expired, other key, probe token, alg none, HS512
    const SIGNED_IN_OK: [u16; 9] = [401, 200, 200, 200, 401, 401, 401, 401, 401];
    const SIGNED_IN_CREATED: [u16; 9] = [401, 201, 201, 201, 401, 401, 401, 401, 401];
    const SIGNED_IN_INVALID: [u16; 9] = [401, 400, 400, 400, 401, 401, 401, 401, 401];
    // Someone else's probe is refused with 403 (probe ids are public), the superuser included.
    const OWNER_ONLY_OK: [u16; 9] = [401, 200, 403, 403, 401, 401, 401, 401, 401];
    let op = &world.operation_id;
    let ping = json!({"probes": [world.probe_id], "params": ping_params(5)});
    let location = json!({"location": {"latitude": 1.0, "longitude": 2.0}});
    vec![
        row(M::GET, "/users/me", None, SIGNED_IN_OK),
        row(M::GET, "/probes", None, PUBLIC_OK),
        row(M::GET, "/probes/me", None, SIGNED_IN_OK),
        row(M::POST, "/probes", Some(location), SIGNED_IN_CREATED),
        row(M::GET, "/operations", None, SIGNED_IN_OK),
        row(M::GET, "/operations/me", None, SIGNED_IN_OK),
        row(M::GET, &format!("/operation?id={op}"), None, PUBLIC_OK),
        row(
            M::GET,
            &format!("/operations/{op}/results"),
            None,
            PUBLIC_OK,
        ),
        // Only the owner holds credits: the others are refused for their balance, not access.
        row(
            M::POST,
            "/ping",
            Some(ping),
            [401, 201, 400, 400, 401, 401, 401, 401, 401],
        ),
        row(
            M::POST,
            "/traceroute",
            Some(json!({"probes": [world.probe_id]})),
            SIGNED_IN_INVALID,
        ),
        row(
            M::POST,
            "/dns",
            Some(json!({"probes": [world.probe_id]})),
            SIGNED_IN_INVALID,
        ),
        row(
            M::POST,
            "/credits",
            Some(json!({"id": world.other.id, "credits": 1})),
            [401, 403, 403, 200, 401, 401, 401, 401, 401],
        ),
        // Production mode: the wipe does not exist, whoever asks.
        row(M::DELETE, "/delete_all", None, [404; 9]),
        row(M::GET, "/health", None, [403; 9]),
        // 200 or 503 (no NTP server in tests): the check ran, whoever asked.
        row(
            M::GET,
            &format!("/health?code={HEALTH_CODE}"),
            None,
            [HEALTH_ANSWERED; 9],
        ),
        row(M::GET, "/metrics", None, [403; 9]),
        row(
            M::GET,
            &format!("/metrics?code={METRICS_CODE}"),
            None,
            PUBLIC_OK,
        ),
        row(M::GET, "/healthz", None, PUBLIC_OK),
        row(M::GET, "/openapi.json", None, PUBLIC_OK),
        row(M::GET, "/probe/ws", None, [400; 9]),
        // Last: the owner's calls revoke the probe's token and remove the spare probe. The
        // owner removes it before the others ask, so they find nothing; their 403 for a probe
        // that exists is in probe_removal.rs.
        row(
            M::POST,
            &format!("/probes/{}/token", world.probe_id),
            None,
            OWNER_ONLY_OK,
        ),
        row(
            M::DELETE,
            &format!("/probes/{}", world.spare_probe_id),
            None,
            [401, 204, 404, 404, 401, 401, 401, 401, 401],
        ),
    ]
}

#[tokio::test]
async fn every_endpoint_answers_every_caller_as_the_matrix_says_and_leaks_nothing() {
    let world = World::new().await;
    let app = &world.app;
    let mut failures = Vec::new();
    for row in rows(&world) {
        for (caller, expected) in CALLERS.iter().zip(row.expected) {
            let token = world.token(*caller);
            let (status, body) = app
                .call(
                    row.method.clone(),
                    &row.path,
                    token.as_deref(),
                    row.body.clone(),
                )
                .await;
            let cell = format!("{} {} as {caller:?}", row.method, row.path);
            if !as_expected(status, expected) {
                failures.push(format!("{cell}: expected {expected}, got {status}: {body}"));
            }
            let text = body.to_string();
            for forbidden in ["$argon2", "password_hash"] {
                if text.contains(forbidden) {
                    failures.push(format!("{cell}: body contains {forbidden:?}: {text}"));
                }
            }
            if !matches!(caller, Caller::Owner) {
                for secret in world.owner_secrets() {
                    if text.contains(&secret) {
                        failures.push(format!("{cell}: body leaks the owner's {secret:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Login and registration are public but still must not reveal anything about other accounts
/// beyond what the original did, and never a hash.
#[tokio::test]
async fn login_and_register_answer_every_caller_alike() {
    let world = World::new().await;
    let app = &world.app;
    for (n, caller) in CALLERS.iter().enumerate() {
        let token = world.token(*caller);
        let email = format!("new{n}@example.org");
        let credentials = json!({"email": email, "password": PASSWORD});
        let (status, body) = app
            .call(
                Method::POST,
                "/register",
                token.as_deref(),
                Some(credentials.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{caller:?}: {body}");
        assert_eq!(body["email"], email);
        assert!(!body.to_string().contains("$argon2"));
        let (status, body) = app
            .call(Method::POST, "/login", token.as_deref(), Some(credentials))
            .await;
        assert_eq!(status, StatusCode::OK, "{caller:?}: {body}");
        assert!(!body.to_string().contains("$argon2"));
    }
}

/// /probes/me lists the caller's probes with tokens, never anyone else's; GET /probes lists
/// everyone's without tokens.
#[tokio::test]
async fn probe_tokens_are_only_shown_to_their_owner() {
    let world = World::new().await;
    let app = &world.app;
    let (_, other_probe_token) = app.probe(&world.other).await;
    let (status, mine) = app.get("/probes/me", Some(&world.owner.token)).await;
    assert_eq!(status, StatusCode::OK);
    let mine = mine.as_array().unwrap();
    assert_eq!(mine.len(), 2, "the probe and the spare");
    assert_eq!(mine[0]["token"], world.probe_token);
    let (_, theirs) = app.get("/probes/me", Some(&world.other.token)).await;
    assert_eq!(theirs.as_array().unwrap().len(), 1);
    assert_eq!(theirs[0]["token"], other_probe_token);
    let (_, public) = app.get("/probes", None).await;
    assert_eq!(public.as_array().unwrap().len(), 3);
    assert!(public
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p.get("token").is_none()));
}
