//! `login`, `logout`, `credits` and `probes`.

use crate::helpers::{assert_fails, assert_success, stdout, Home};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use testkit::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_keeps_the_token_readable_by_its_owner_only_and_logout_forgets_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(&dir.path().join("data")).await;
    app.funded_user("researcher@example.org", 1234).await;
    let home = Home::of(&app);

    home.login("researcher@example.org").await;
    let file = std::fs::metadata(home.credentials()).unwrap();
    assert_eq!(file.permissions().mode() & 0o777, 0o600);
    let dir_mode = std::fs::metadata(home.credentials().parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(home.credentials()).unwrap()).unwrap();
    assert_eq!(stored["server"], home.server.as_str());

    let credits = home.run(&["credits"]).await;
    assert_success(&credits);
    assert_eq!(stdout(&credits).trim(), "1234");

    // A second login replaces the file, still 0600 even if someone had widened it.
    std::fs::set_permissions(home.credentials(), std::fs::Permissions::from_mode(0o644)).unwrap();
    home.login("researcher@example.org").await;
    let file = std::fs::metadata(home.credentials()).unwrap();
    assert_eq!(file.permissions().mode() & 0o777, 0o600);

    assert_success(&home.run(&["logout"]).await);
    assert!(!home.credentials().exists());
    let refused = home.run(&["credits"]).await;
    assert_fails(&refused, 3, "not logged in");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_goes_only_to_the_server_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(&dir.path().join("data")).await;
    app.funded_user("researcher@example.org", 10).await;
    let home = Home::of(&app);
    home.login("researcher@example.org").await;

    let elsewhere = home
        .run(&[
            "--server",
            &format!("http://localhost:{}", app.addr.port()),
            "credits",
        ])
        .await;
    assert_fails(&elsewhere, 3, "not logged in to http://localhost:");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_lists_them_as_a_table_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(&dir.path().join("data")).await;
    let owner = app.funded_user("owner@example.org", 10).await;
    let (online, token) = app.probe(&owner).await;
    let (offline, _) = app.probe(&owner).await;
    let _link = app.connect(&token, 500).await;
    app.wait_connected(&online).await;
    let home = Home::of(&app);

    let connected = home.run(&["probes", "--connected", "--json"]).await;
    assert_success(&connected);
    let listed: Value = serde_json::from_str(&stdout(&connected)).unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [online.as_str()]);

    let table = home.run(&["probes"]).await;
    assert_success(&table);
    let text = stdout(&table);
    assert!(text.contains(&online) && text.contains(&offline), "{text}");
    assert!(text.contains("500 of 500"), "{text}");
    app.stop().await;
}
