//! On a terminal, `--wait` shows a progress bar and a table of results as they arrive, and
//! Ctrl-C stops following while the operation keeps running.

use crate::helpers::{scamper_can_measure, Home, Measuring};
use expectrl::{Regex, Session, WaitStatus};
use std::time::Duration;
use testkit::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_progress_and_rows_show_and_ctrl_c_leaves_the_operation_running() {
    if !scamper_can_measure() {
        return;
    }
    let Measuring {
        app,
        home,
        probe_id,
        probe: _probe,
        dir: _dir,
    } = Measuring::start().await;

    let mut command = home.command(&[
        "ping",
        "127.0.0.1",
        "--all",
        "--times-per-minute",
        "60",
        "--stop",
        "5m",
        "--wait",
    ]);
    command.env("TERM", "xterm");
    let probe = probe_id.clone();
    // expectrl blocks: off the runtime that serves the server and the probe.
    let (seen, status) = tokio::task::spawn_blocking(move || {
        let session = Session::spawn(command).expect("the CLI starts on a pseudo-terminal");
        // What the terminal showed, in the test's output when it fails.
        let mut session = expectrl::session::log(session, std::io::stderr()).unwrap();
        session.set_expect_timeout(Some(Duration::from_secs(60)));
        let created = session
            .expect(Regex(r"Operation ([0-9a-f]{24}) \(ping\)"))
            .unwrap();
        let operation = String::from_utf8_lossy(created.get(1).unwrap()).into_owned();
        session.expect("probes finished").unwrap();
        session.expect(Regex(r"\d+ results")).unwrap();
        let row = format!(r"{probe}\s+\d\d:\d\d:\d\d\s+127\.0\.0\.1\s+4/4 replies");
        session.expect(Regex(row.as_str())).unwrap();
        session.send("\x03").unwrap();
        session.expect("keeps running").unwrap();
        session
            .expect(format!("pladmed-cli results {operation}").as_str())
            .unwrap();
        let status = session.get_process().wait().unwrap();
        (operation, status)
    })
    .await
    .unwrap();
    assert!(
        matches!(status, WaitStatus::Exited(_, 130)),
        "Ctrl-C exits with 130: {status:?}"
    );

    // The operation still runs: results keep arriving after the CLI left.
    let before = app.all_results(&seen).await.len();
    testkit::eventually("more results after Ctrl-C", 30, || async {
        (app.all_results(&seen).await.len() > before).then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_login_asks_for_the_password_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(&dir.path().join("data")).await;
    app.funded_user("researcher@example.org", 7).await;
    let home = Home::of(&app);
    let command = home.command(&["login", "researcher@example.org"]);
    let shown = tokio::task::spawn_blocking(move || {
        let mut session = Session::spawn(command).expect("the CLI starts on a pseudo-terminal");
        session.set_expect_timeout(Some(Duration::from_secs(30)));
        session.expect("Password: ").unwrap();
        session.send_line(testkit::PASSWORD).unwrap();
        let done = session.expect("Logged in to").unwrap();
        let status = session.get_process().wait().unwrap();
        assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
        String::from_utf8_lossy(done.before()).into_owned()
    })
    .await
    .unwrap();
    assert!(
        !shown.contains(testkit::PASSWORD),
        "the password was echoed: {shown}"
    );
    let credits = home.run(&["credits"]).await;
    assert_eq!(String::from_utf8_lossy(&credits.stdout).trim(), "7");
    app.stop().await;
}
