//! Every rule of the reference parameter list and of the account endpoints: 400 naming the
//! field, 401/403 for credentials, 404 for unknown things.

use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::*;

/// Posts an operation whose params are the valid `base` with `key` set to `value` (or removed
/// when `value` is null) and expects a 400 whose message names `key`.
async fn expect_rejected(
    app: &TestApp,
    token: &str,
    path: &str,
    base: &Value,
    probe: &str,
    key: &str,
    value: Value,
) {
    let mut params = base.clone();
    if value.is_null() {
        params.as_object_mut().unwrap().remove(key);
    } else {
        params[key] = value.clone();
    }
    let (status, body) = app
        .post(
            path,
            Some(token),
            json!({"probes": [probe], "params": params}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{path} {key}={value}: {body}"
    );
    let message = body["Error"].as_str().unwrap_or_default();
    assert!(
        message.contains(key),
        "{path} {key}={value}: error does not name the field: {message}"
    );
}

#[tokio::test]
async fn every_bad_parameter_is_a_400_naming_it() {
    let app = spawn_app().await;
    let user = app.funded_user("rules@example.org", 1_000_000).await;
    let (probe, probe_token) = app.probe(&user).await;
    let _link = app.connect(&probe_token, 1_000_000).await;
    let token = user.token.as_str();

    let common = |extra: Value| {
        let mut params = ping_params(10);
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        params
    };
    let general = [
        ("cron", json!("every minute")),
        ("cron", json!("61 * * * *")),
        ("cron", Value::Null),
        ("stop_time", json!("2030-01-01 10:00")),
        ("stop_time", json!("01/01/2030  10:00")),
        ("stop_time", json!("32/01/2030 10:00")),
        ("stop_time", json!("01/01/2020 10:00")),
        ("stop_time", json!("01/01/2099 10:00")),
        ("stop_time", Value::Null),
        ("times_per_minute", json!(0)),
        ("times_per_minute", json!(61)),
        ("times_per_minute", json!("many")),
        ("times_per_minute", Value::Null),
        ("ips", json!(["300.1.1.1"])),
        ("ips", json!([])),
        ("fqdns", json!(["bad..name"])),
    ];
    let traceroute = common(json!({}));
    for (path, base) in [("/traceroute", &traceroute), ("/ping", &common(json!({})))] {
        for (key, value) in general.clone() {
            expect_rejected(&app, token, path, base, &probe, key, value).await;
        }
    }
    for (key, value) in [
        ("attempts", json!(0)),
        ("attempts", json!(11)),
        ("confidence", json!(1.0)),
        ("confidence", json!(-0.1)),
        ("dport", json!(0)),
        ("firsthop", json!(0)),
        ("maxttl", json!(0)),
        ("maxttl", json!(256)),
        ("method", json!("tcp")),
        ("sport", json!(-1)),
        ("wait", json!(0)),
        ("wait", json!(21)),
        ("wait-probe", json!(-1)),
        ("wait-probe", json!(101)),
        ("probecount", json!(5)),
    ] {
        expect_rejected(&app, token, "/traceroute", &traceroute, &probe, key, value).await;
    }
    let ping = common(json!({}));
    for (key, value) in [
        ("dport", json!(0)),
        ("icmp-sum", json!(0)),
        ("method", json!("icmp-paris")),
        ("probecount", json!(0)),
        ("probecount", json!(101)),
        ("size", json!(0)),
        ("size", json!(256)),
        ("sport", json!(0)),
        ("timeout", json!(-1)),
        ("timeout", json!(101)),
        ("wait", json!(0)),
        ("wait", json!(21)),
        ("maxttl", json!(5)),
    ] {
        expect_rejected(&app, token, "/ping", &ping, &probe, key, value).await;
    }
    let dns = json!({"cron": "* * * * *", "stop_time": stop_time_in(10), "times_per_minute": 1, "fqdns": ["example.org"]});
    for (key, value) in [
        ("address", json!("not-an-ip")),
        ("ips", json!(["1.1.1.1"])),
        ("ipv4", json!("yes")),
        ("ipv6", json!(1)),
        ("type", json!("aaaa-ish")),
        ("x", json!("nope")),
        ("maxttl", json!(3)),
    ] {
        expect_rejected(&app, token, "/dns", &dns, &probe, key, value).await;
    }

    // The same rules accept their edges.
    let edges = common(
        json!({"attempts": 10, "confidence": 0.99, "maxttl": 255, "wait": 20, "wait-probe": 0, "firsthop": 1, "method": "udp-paris"}),
    );
    let (status, body) = app
        .post(
            "/traceroute",
            Some(token),
            json!({"probes": [probe], "params": edges}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            "/traceroute",
            Some(token),
            json!({"probes": [probe], "params": traceroute, "result_format": "xml"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["Error"].as_str().unwrap().contains("result_format"));
    app.stop().await;
}

#[tokio::test]
async fn malformed_bodies_ids_and_probe_lists_are_precise_errors() {
    let app = spawn_app().await;
    let user = app.funded_user("bodies@example.org", 1000).await;
    let token = Some(user.token.as_str());
    let (probe, _) = app.probe(&user).await;

    let response = app
        .client
        .post(app.url("/ping"))
        .header("access_token", &user.token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(body["Error"].as_str().unwrap().contains("JSON"));

    let (status, body) = app
        .post("/ping", token, json!({"params": ping_params(5)}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["Error"].as_str().unwrap().contains("probes"), "{body}");
    let (status, body) = app
        .post(
            "/ping",
            token,
            json!({"probes": [], "params": ping_params(5)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app
        .post(
            "/ping",
            token,
            json!({"probes": ["6047c91ef391a23bca4c31d8"], "params": ping_params(5)}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown probe: {body}");
    let (status, body) = app
        .post(
            "/ping",
            token,
            json!({"probes": [probe], "params": ping_params(5)}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"Error": "No available probes"})
        ),
        "probe not connected"
    );

    for path in [
        "/operation?id=6047c91ef391a23bca4c31d8",
        "/operation?id=garbage",
        "/operation",
        "/operations/garbage/results",
    ] {
        let (status, body) = app.get(path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(body["Error"].is_string());
    }
    let (status, body) = app
        .post(
            "/probes",
            token,
            json!({"location": {"latitude": 91, "longitude": 0}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["Error"].as_str().unwrap().contains("latitude"));
    let (status, body) = app
        .post(
            "/probes",
            token,
            json!({"location": {"latitude": 0, "longitude": "west"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["Error"].as_str().unwrap().contains("longitude"));
    let (status, _) = app.get("/no/such/path", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn account_rules_follow_the_original() {
    let app = spawn_app().await;
    for (body, needle) in [
        (json!({"password": PASSWORD}), "email"),
        (json!({"email": "a@example.org"}), "password"),
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": "a@example.org", "password": "weakpass"}),
            "password",
        ),
    ] {
        let (status, reply) = app.post("/register", None, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            reply["Error"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains(needle),
            "{reply}"
        );
    }
    let user = app.user("same@example.org").await;
    let (status, reply) = app
        .post_credentials("/register", "same@example.org", PASSWORD)
        .await;
    assert_eq!(
        (status, reply),
        (
            StatusCode::BAD_REQUEST,
            json!({"Error": "That email is already registered"})
        )
    );
    let (status, _) = app
        .post_credentials("/login", "same@example.org", "Wrong#1234")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post_credentials("/login", "nobody@example.org", PASSWORD)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, me) = app.get("/users/me", Some(&user.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "same@example.org");
    assert_eq!(me["credits"], 0);
    assert!(me.get("password").is_none() && me.get("password_hash").is_none());
    app.stop().await;
}

/// The query strings of the result routes: each bad value is a 400 naming its field, the
/// operation is looked up first (an unknown one is a 404 whatever the query), and a repeated key
/// counts once, with its last value.
#[tokio::test]
async fn result_queries_name_the_field_after_the_operation_is_found() {
    let app = spawn_app().await;
    let researcher = app.funded_user("queries@example.org", 1000).await;
    let (probe_id, probe_token) = app.probe(&researcher).await;
    let _probe = app.connect(&probe_token, 1000).await;
    let (status, operation) = app
        .post(
            "/ping",
            Some(&researcher.token),
            json!({"probes": [probe_id], "params": ping_params(5)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{operation}");
    let id = operation["_id"].as_str().unwrap();
    let limit = json!({"Error": "limit: must be an integer between 1 and 1000"});
    for query in [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "limit=",
        "limit=5&limit=0",
    ] {
        let (status, body) = app
            .get(&format!("/operations/{id}/results?{query}"), None)
            .await;
        assert_eq!(
            (status, &body),
            (StatusCode::BAD_REQUEST, &limit),
            "{query}"
        );
    }
    let (status, body) = app
        .get(&format!("/operations/{id}/results?after=xyz"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"Error": "after: \"xyz\" is not a result cursor"})
    );
    let (status, body) = app
        .get(&format!("/operations/{id}/results?limit=0&limit=5"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let missing = json!({"Error": "Operation doesn't exist"});
    for path in [
        "/operations/000000000000000000000000/results?limit=0".to_string(),
        "/operations/nope/results?after=xyz".to_string(),
        "/operation".to_string(),
        "/operation?id=nope".to_string(),
        "/operation?id=000000000000000000000000&id".to_string(),
    ] {
        let (status, body) = app.get(&path, None).await;
        assert_eq!((status, &body), (StatusCode::NOT_FOUND, &missing), "{path}");
    }
    let (status, _) = app.get(&format!("/operation?id=nope&id={id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
