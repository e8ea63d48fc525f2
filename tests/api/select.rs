//! `select`: POST /traceroute, /ping, /dns choosing probes by place instead of by id.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use testkit::*;

const BUENOS_AIRES: (f64, f64) = (-34.6037, -58.3816);
const MONTEVIDEO: (f64, f64) = (-34.9011, -56.1645); // ~200 km from Buenos Aires
const MADRID: (f64, f64) = (40.4168, -3.7038);

/// Registers a probe of `user` at `place`; connects it when `connected`. Returns its id and,
/// when connected, its link (kept open by the caller).
async fn probe_at(
    app: &TestApp,
    user: &Account,
    place: (f64, f64),
    connected: bool,
) -> (String, Option<TestProbe>) {
    let location = json!({"location": {"latitude": place.0, "longitude": place.1}});
    let (status, body) = app.post("/probes", Some(&user.token), location).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["identifier"].as_str().unwrap().to_string();
    let link = if connected {
        let link = app
            .connect(body["token"].as_str().unwrap(), 1_000_000)
            .await;
        app.wait_connected(&id).await;
        Some(link)
    } else {
        None
    };
    (id, link)
}

fn select(place: (f64, f64), radius_km: f64, limit: u64) -> Value {
    json!({
        "select": {"near": {"latitude": place.0, "longitude": place.1}, "radius_km": radius_km, "limit": limit},
        "params": single_ping_params(),
    })
}

fn chosen(operation: &Value) -> HashSet<String> {
    operation["probes"]
        .as_array()
        .expect("the reply lists the probes")
        .iter()
        .map(|p| p["identifier"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn select_chooses_connected_probes_within_the_radius_up_to_the_limit() {
    let app = spawn_app().await;
    let user = app.funded_user("near@example.org", 100_000).await;
    let mut links = Vec::new();
    let mut near = HashSet::new();
    for place in [BUENOS_AIRES, BUENOS_AIRES, MONTEVIDEO] {
        let (id, link) = probe_at(&app, &user, place, true).await;
        near.insert(id);
        links.push(link);
    }
    let (far, link) = probe_at(&app, &user, MADRID, true).await;
    links.push(link);
    let (offline, _) = probe_at(&app, &user, BUENOS_AIRES, false).await;

    let all = app
        .post_ok("/ping", Some(&user.token), select(BUENOS_AIRES, 500.0, 10))
        .await;
    assert_eq!(
        chosen(&all),
        near,
        "every connected probe within 500 km, no other"
    );
    assert!(!chosen(&all).contains(&far) && !chosen(&all).contains(&offline));

    let two = app
        .post_ok("/traceroute", Some(&user.token), {
            let mut body = select(BUENOS_AIRES, 500.0, 2);
            body["params"] = json!({"cron": "0 0 1 1 *", "stop_time": stop_time_in(30), "times_per_minute": 1, "ips": ["127.0.0.1"]});
            body
        })
        .await;
    assert_eq!(chosen(&two).len(), 2);
    assert!(chosen(&two).is_subset(&near));

    let (status, body) = app
        .post("/ping", Some(&user.token), select(BUENOS_AIRES, 100.0, 10))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        !chosen(&body).iter().any(|p| p == &far),
        "Madrid is not within 100 km"
    );

    let (status, body) = app
        .post("/ping", Some(&user.token), select((0.0, 0.0), 500.0, 10))
        .await;
    assert_eq!(
        (status, &body["Error"]),
        (StatusCode::NOT_FOUND, &json!("No available probes"))
    );
}

#[tokio::test]
async fn repeated_selections_spread_over_the_candidates() {
    let app = spawn_app().await;
    let user = app.funded_user("spread@example.org", 100_000).await;
    let mut links = Vec::new();
    for _ in 0..20 {
        links.push(probe_at(&app, &user, BUENOS_AIRES, true).await.1);
    }
    let mut hit = HashSet::new();
    for _ in 0..30 {
        let operation = app
            .post_ok("/ping", Some(&user.token), select(BUENOS_AIRES, 50.0, 2))
            .await;
        assert_eq!(chosen(&operation).len(), 2);
        hit.extend(chosen(&operation));
    }
    // Always the same two would be 2; uniform draws hit about 19 (at least 6 all but never fails).
    assert!(
        hit.len() >= 6,
        "only {} distinct probes over 30 operations",
        hit.len()
    );
}

#[tokio::test]
async fn select_and_probes_are_exclusive_and_each_bad_select_field_is_named() {
    let app = spawn_app().await;
    let user = app.funded_user("fields@example.org", 100_000).await;
    let (probe, _link) = probe_at(&app, &user, BUENOS_AIRES, true).await;
    let good = select(BUENOS_AIRES, 500.0, 1);
    let mut both = good.clone();
    both["probes"] = json!([probe]);
    let mut neither = good.clone();
    neither.as_object_mut().unwrap().remove("select");
    let with = |path: &str, value: Value| {
        let mut body = good.clone();
        match body["select"].pointer_mut(path) {
            Some(field) => *field = value,
            None => body["select"][path.trim_start_matches('/')] = value,
        }
        body
    };
    for (body, named) in [
        (both, "select: "),
        (neither, "probes: "),
        (
            json!({"select": 5, "params": single_ping_params()}),
            "select: ",
        ),
        (with("/near", json!("here")), "select.near: "),
        (with("/near/latitude", json!(91)), "select.near.latitude"),
        (
            with("/near/longitude", json!(null)),
            "select.near.longitude",
        ),
        (with("/radius_km", json!(0)), "select.radius_km: "),
        (with("/radius_km", json!(20041)), "select.radius_km: "),
        (with("/limit", json!(0)), "select.limit: "),
        (with("/limit", json!(1001)), "select.limit: "),
        (with("/limit", json!("3")), "select.limit: "),
        (with("/country", json!("AR")), "select.country: "),
    ] {
        let (status, reply) = app.post("/dns", Some(&user.token), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        let message = reply["Error"].as_str().unwrap();
        assert!(message.starts_with(named), "{body}: {message}");
    }
    let (status, reply) = app.post("/ping", Some(&user.token), good).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(chosen(&reply), HashSet::from([probe]));
}
