//! The server on MongoDB when the database goes away: health says so (503, `database` false),
//! requests fail with 503, store errors are counted, and all of it recovers with the database.

use pladmed::config::StorageSettings;
use serde_json::Value;
use std::time::{Duration, Instant};
use testkit::{mongo, spawn_app_with, TestApp};

const CODE: &str = "outage-code-0123456789";

async fn start(uri: String) -> TestApp {
    spawn_app_with(|settings| {
        settings.storage = StorageSettings::Mongo {
            uri,
            database: mongo::unique_db_name("outage"),
        };
        settings.health_code = Some(CODE.into());
        settings.metrics_code = Some(CODE.into());
    })
    .await
}

async fn database_healthy(server: &TestApp) -> (bool, Value) {
    let (_, health) = server.get(&format!("/health?code={CODE}"), None).await;
    (health["status"][0]["database"] == true, health)
}

async fn store_errors(server: &TestApp) -> f64 {
    let (_, text) = server.get(&format!("/metrics?code={CODE}"), None).await;
    text.as_str()
        .expect("metrics as text")
        .lines()
        .find_map(|l| l.strip_prefix("pladmed_store_errors_total "))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_lost_database_shows_in_health_and_metrics_and_recovers() {
    let Some(mut database) = mongo::OwnServer::start() else {
        return;
    };
    let server = start(database.uri()).await;
    let (healthy, health) = database_healthy(&server).await;
    assert!(healthy, "{health}");
    assert_eq!(store_errors(&server).await, 0.0);

    database.kill();
    let started = Instant::now();
    let (healthy, health) = database_healthy(&server).await;
    assert!(!healthy, "{health}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the check is bounded"
    );
    assert!(health["messages"][0]["database"][0].is_string(), "{health}");
    let (status, body) = server.get("/probes", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(store_errors(&server).await >= 1.0);
    let (status, _) = server.get("/healthz", None).await;
    assert_eq!(status, 200, "liveness does not depend on the database");

    database.restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !database_healthy(&server).await.0 {
        assert!(Instant::now() < deadline, "database check never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = server.get("/probes", None).await;
    assert_eq!(status, 200);
}
