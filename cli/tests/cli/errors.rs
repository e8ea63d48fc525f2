//! Each failure has its exit code and says what is wrong (docs/cli.md): 1 the server refused,
//! 2 the command line is wrong, 3 authentication, 4 network.

use crate::helpers::{assert_fails, Home};
use testkit::process::free_port;
use testkit::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_usage_mistakes_and_bad_credentials_have_their_own_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(&dir.path().join("data")).await;
    let owner = app.funded_user("owner@example.org", 1000).await;
    let (probe, token) = app.probe(&owner).await;
    let home = Home::of(&app);

    let wrong = home
        .run_with_input(
            &["login", "owner@example.org", "--password-stdin"],
            Some("Wrong#Pass1"),
        )
        .await;
    assert_fails(&wrong, 3, "login refused");
    let no_terminal = home.run(&["login", "owner@example.org"]).await;
    assert_fails(&no_terminal, 2, "--password-stdin");
    home.login("owner@example.org").await;

    // Nothing connected yet.
    let nobody = home.run(&["ping", "127.0.0.1", "--all"]).await;
    assert_fails(&nobody, 1, "no probes available");
    let offline = home.run(&["ping", "127.0.0.1", "--probes", &probe]).await;
    assert_fails(&offline, 1, "No available probes");

    let _link = app.connect(&token, 500).await;
    app.wait_connected(&probe).await;
    let unchosen = home.run(&["ping", "127.0.0.1"]).await;
    assert_fails(&unchosen, 2, "--probes");
    let bad = home
        .run(&["ping", "127.0.0.1", "--all", "-o", "probecount=0"])
        .await;
    assert_fails(
        &bad,
        2,
        "params.probecount: must be an integer between 1 and 100",
    );
    let unknown = home
        .run(&["traceroute", "127.0.0.1", "--all", "-o", "colour=blue"])
        .await;
    assert_fails(&unknown, 2, "params.colour");
    let stop = home
        .run(&["dns", "example.org", "--all", "--stop", "yesterday"])
        .await;
    assert_fails(&stop, 2, "--stop");
    let missing = home.run(&["ping", "--all"]).await;
    assert_eq!(missing.status.code(), Some(2));

    // A poor account: the server's own words.
    app.user("poor@example.org").await;
    let poor_home = Home::of(&app);
    poor_home.login("poor@example.org").await;
    let broke = poor_home
        .run(&["ping", "127.0.0.1", "--probes", &probe])
        .await;
    assert_fails(&broke, 1, "Not enough credits");

    let unknown_operation = home.run(&["results", "0123456789abcdef01234567"]).await;
    assert_fails(&unknown_operation, 1, "Operation doesn't exist");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_network_failure() {
    let home = Home::new(format!("http://127.0.0.1:{}", free_port()));
    let output = home.run(&["probes"]).await;
    assert_fails(&output, 4, "cannot reach http://127.0.0.1:");
    let not_a_url = home.run(&["--server", "ftp://example.org", "probes"]).await;
    assert_fails(&not_a_url, 2, "--server");
}

/// `pladmed-cli … | head -1`: a reader that leaves early ends the CLI quietly, not with a
/// panic or an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_standard_output_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(&dir.path().join("data")).await;
    let home = Home::of(&app);
    let mut child = tokio::process::Command::from(home.command(&["probes", "--json"]))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    app.stop().await;
}
