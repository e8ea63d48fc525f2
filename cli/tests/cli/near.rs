//! `--near LAT,LON --radius-km N --limit K`: the server chooses the probes by place.

use crate::helpers::{assert_fails, assert_success, stderr, stdout, Home};
use testkit::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_lets_the_server_choose_probes_by_place() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(&dir.path().join("data")).await;
    let owner = app.funded_user("researcher@example.org", 1000).await;
    // testkit's probes stand in Buenos Aires (-34.6, -58.5).
    let mut links = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (id, token) = app.probe(&owner).await;
        links.push(app.connect(&token, 500).await);
        app.wait_connected(&id).await;
        ids.push(id);
    }
    let home = Home::of(&app);
    home.login("researcher@example.org").await;

    let near = [
        "ping",
        "127.0.0.1",
        "--near",
        "-34.6,-58.4",
        "--radius-km",
        "50",
        "--limit",
        "2",
    ];
    let created = home.run(&near).await;
    assert_success(&created);
    let told = stderr(&created);
    let chosen: Vec<&String> = ids.iter().filter(|id| told.contains(id.as_str())).collect();
    assert_eq!(chosen.len(), 2, "{told}");
    assert!(told.contains("on 2 probe(s)"), "{told}");
    let operation = stdout(&created).trim().to_string();
    assert_eq!(operation.len(), 24, "the operation id alone on stdout");

    let far = [
        "ping",
        "127.0.0.1",
        "--near",
        "48.85,2.35",
        "--radius-km",
        "100",
        "--limit",
        "2",
    ];
    let refused = home.run(&far).await;
    assert_fails(&refused, 1, "No available probes");
    let bad = home
        .run(&["ping", "127.0.0.1", "--near", "100,0", "--radius-km", "5"])
        .await;
    assert_fails(&bad, 2, "--near");
    app.stop().await;
}
