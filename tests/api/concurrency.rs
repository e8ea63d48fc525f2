//! Many concurrent operation creations by one user never overdraw credits.

use reqwest::StatusCode;
use serde_json::json;
use testkit::*;

#[tokio::test]
async fn concurrent_creations_never_overdraw() {
    let app = spawn_app().await;
    let user = app.funded_user("race@example.org", 100).await;
    let (probe, token) = app.probe(&user).await;
    let _link = app.connect(&token, 1_000_000).await;
    // "0 0 1 1 *" fires once before a stop_time a few minutes away: one execution, 1 credit
    // per destination; ten destinations make each operation cost exactly 10.
    let ips: Vec<String> = (1..=10).map(|n| format!("127.0.0.{n}")).collect();
    let body = json!({"probes": [probe], "params": {"cron": "0 0 1 1 *", "stop_time": stop_time_in(5), "times_per_minute": 1, "ips": ips}});
    let requests = (0..30).map(|_| {
        let (app, body, token) = (&app, body.clone(), user.token.clone());
        async move { app.post("/ping", Some(&token), body).await }
    });
    let outcomes = futures::future::join_all(requests).await;
    let created = outcomes
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let refused = outcomes
        .iter()
        .filter(|(s, b)| *s == StatusCode::BAD_REQUEST && b["Error"] == "Not enough credits")
        .count();
    assert_eq!(created, 10, "100 credits buy exactly ten operations of 10");
    assert_eq!(refused, 20);
    assert_eq!(app.credits_of(&user).await, 0);
    app.stop().await;
}
