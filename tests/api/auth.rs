//! Credentials: 401 only for missing or invalid ones, 403 for the wrong role, CORS everywhere.

use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::*;

#[tokio::test]
async fn protected_endpoints_need_a_valid_user_token() {
    let app = spawn_app().await;
    let user = app.user("auth@example.org").await;
    let (_, probe_token) = app.probe(&user).await;
    let bad_tokens = [None, Some("garbage"), Some(probe_token.as_str())];
    for token in bad_tokens {
        for (method, path) in [
            (Method::GET, "/users/me"),
            (Method::GET, "/probes/me"),
            (Method::GET, "/operations"),
            (Method::GET, "/operations/me"),
            (Method::POST, "/probes"),
            (Method::POST, "/ping"),
            (Method::POST, "/traceroute"),
            (Method::POST, "/dns"),
            (Method::POST, "/credits"),
        ] {
            let (status, body) = app.call(method.clone(), path, token, Some(json!({}))).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {token:?}: {body}"
            );
            assert_eq!(
                body,
                json!({"Error": "No authorization to access this content"})
            );
        }
    }
    let bearer = app
        .client
        .get(app.url("/users/me"))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        bearer.status(),
        StatusCode::OK,
        "Authorization: Bearer works too"
    );
    app.stop().await;
}

#[tokio::test]
async fn only_a_superuser_grants_credits_and_amounts_are_checked() {
    let app = spawn_app().await;
    let user = app.user("plain@example.org").await;
    let admin = app.superuser("admin@example.org").await;
    let (status, _) = app
        .post(
            "/credits",
            Some(&user.token),
            json!({"id": user.id, "credits": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for amount in [json!(-5), json!(0), json!(1.5), json!("10")] {
        let (status, body) = app
            .post(
                "/credits",
                Some(&admin.token),
                json!({"id": user.id, "credits": amount}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{amount}: {body}");
        assert!(body["Error"].as_str().unwrap().contains("credits"));
    }
    let (status, _) = app
        .post(
            "/credits",
            Some(&admin.token),
            json!({"id": "6047c91ef391a23bca4c31d8", "credits": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .post(
            "/credits",
            Some(&admin.token),
            json!({"id": user.id, "credits": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["credits"], 5);
    let (_, body) = app
        .post(
            "/credits",
            Some(&admin.token),
            json!({"id": user.id, "credits": 7}),
        )
        .await;
    assert_eq!(body["credits"], 12, "credits are added, not set");
    app.stop().await;
}

#[tokio::test]
async fn cors_preflight_and_headers_on_every_response_errors_included() {
    let app = spawn_app().await;
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/users/me"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "access_token,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("access_token") && allowed.contains("content-type"),
        "{allowed}"
    );
    for (method, path) in [
        (Method::GET, "/users/me"),
        (Method::POST, "/login"),
        (Method::GET, "/operation?id=x"),
        (Method::GET, "/probes"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .header("origin", "http://localhost:3000")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert!(
            response
                .headers()
                .contains_key("access-control-allow-origin"),
            "{method} {path} -> {}",
            response.status()
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn delete_all_wipes_in_development_only() {
    let app = spawn_app().await;
    app.user("gone@example.org").await;
    let (status, _) = app.call(Method::DELETE, "/delete_all", None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .post_credentials("/login", "gone@example.org", PASSWORD)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.user("gone@example.org").await;
    let (status, _) = app
        .post_credentials("/register", "gone@example.org", PASSWORD)
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the unique index survives a reset"
    );
    app.stop().await;

    let production = spawn_app_with(|s| {
        s.mode = pladmed::config::Mode::Production;
        s.cors = pladmed::config::CorsOrigins::List(vec!["https://pladmed.example.org".into()]);
    })
    .await;
    let (status, _) = production
        .call(Method::DELETE, "/delete_all", None, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    production.stop().await;
}
