//! The server on MongoDB when the database goes away: health says so (503, `database` false),
//! requests fail with 503, store errors are counted, and all of it recovers with the database.

#[path = "common/mongo.rs"]
mod mongo;

use pladmed::config::{Settings, StorageSettings};
use pladmed::startup::Application;
use serde_json::Value;
use std::time::{Duration, Instant};

const CODE: &str = "outage-code-0123456789";

struct Server {
    base: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    async fn start(uri: String) -> Server {
        let mut settings = Settings::for_local_test(std::env::temp_dir());
        settings.storage = StorageSettings::Mongo {
            uri,
            database: mongo::unique_db_name("outage"),
        };
        settings.health_code = Some(CODE.into());
        settings.metrics_code = Some(CODE.into());
        let app = Application::build(settings).await.expect("server starts");
        let base = format!("http://{}", app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Server {
            base,
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn database_healthy(&self) -> (bool, Value) {
        let (_, body) = self.get(&format!("/health?code={CODE}")).await;
        let health: Value = serde_json::from_str(&body).unwrap();
        (health["status"][0]["database"] == true, health)
    }

    async fn store_errors(&self) -> f64 {
        let (_, text) = self.get(&format!("/metrics?code={CODE}")).await;
        text.lines()
            .find_map(|l| l.strip_prefix("pladmed_store_errors_total "))
            .unwrap()
            .parse()
            .unwrap()
    }
}

#[tokio::test]
async fn a_lost_database_shows_in_health_and_metrics_and_recovers() {
    let Some(mut database) = mongo::OwnServer::start() else {
        return;
    };
    let server = Server::start(database.uri()).await;
    let (healthy, health) = server.database_healthy().await;
    assert!(healthy, "{health}");
    assert_eq!(server.store_errors().await, 0.0);

    database.kill();
    let started = Instant::now();
    let (healthy, health) = server.database_healthy().await;
    assert!(!healthy, "{health}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the check is bounded"
    );
    assert!(health["messages"][0]["database"][0].is_string(), "{health}");
    let (status, body) = server.get("/probes").await;
    assert_eq!(status, 503, "{body}");
    assert!(server.store_errors().await >= 1.0);
    let (status, _) = server.get("/healthz").await;
    assert_eq!(status, 200, "liveness does not depend on the database");

    database.restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !server.database_healthy().await.0 {
        assert!(Instant::now() < deadline, "database check never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = server.get("/probes").await;
    assert_eq!(status, 200);
}
