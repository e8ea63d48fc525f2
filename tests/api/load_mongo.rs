//! The per-user probe cap and the cached probe list with two server instances on one MongoDB
//! database, as in a scaled deployment.

use testkit::mongo;

use futures::future::join_all;
use pladmed::config::StorageSettings;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};
use testkit::{spawn_app_with, TestApp};

/// Two instances on one fresh database, `None` when MongoDB is deliberately skipped.
async fn two_instances(probes_per_user: u32) -> Option<(TestApp, TestApp)> {
    let uri = mongo::mongo_uri()?;
    let database = mongo::unique_db_name("load");
    let instance = |name: &'static str| {
        let (uri, database) = (uri.clone(), database.clone());
        spawn_app_with(move |s| {
            s.storage = StorageSettings::Mongo { uri, database };
            s.instance = name.into();
            s.limits.probes_per_user = probes_per_user;
        })
    };
    Some((instance("a").await, instance("b").await))
}

#[tokio::test]
async fn registrations_racing_on_two_instances_stop_at_the_cap() {
    let Some((a, b)) = two_instances(5).await else {
        return;
    };
    let owner = a.user("two-instances@example.org").await;
    let location = json!({"location": {"latitude": 1.0, "longitude": 2.0}});
    let racing = (0..20).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.post("/probes", Some(&owner.token), location.clone())
    });
    let outcomes = join_all(racing).await;

    let created = outcomes.iter().filter(|(s, _)| *s == StatusCode::CREATED);
    assert_eq!(created.count(), 5, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|(s, _)| [StatusCode::CREATED, StatusCode::FORBIDDEN].contains(s)),
        "{outcomes:?}"
    );
    let (_, mine) = b.get("/probes/me", Some(&owner.token)).await;
    assert_eq!(mine.as_array().unwrap().len(), 5);
    a.stop().await;
    b.stop().await;
}

/// A probe registered through one instance shows in the other's cached list within its
/// maximum age (1 s), though that instance saw no change itself.
#[tokio::test]
async fn another_instances_change_shows_within_the_max_age() {
    let Some((a, b)) = two_instances(100).await else {
        return;
    };
    let owner = a.user("stale@example.org").await;
    let (_, before) = b.get("/probes", None).await;
    assert_eq!(before, json!([]));
    let (id, _) = a.probe(&owner).await;
    let registered = Instant::now();
    loop {
        let (_, listed) = b.get("/probes", None).await;
        if listed[0]["identifier"] == id.as_str() {
            break;
        }
        assert!(
            registered.elapsed() < Duration::from_secs(3),
            "not listed by the other instance after {:?}",
            registered.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.stop().await;
    b.stop().await;
}
