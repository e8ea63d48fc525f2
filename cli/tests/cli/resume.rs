//! `--wait` across a dropped stream: the CLI reconnects with `Last-Event-ID` and prints every
//! result once, none missed.

use crate::helpers::{quick_ping_json, scamper_can_measure, Measuring};
use serde_json::Value;
use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;
use testkit::TestApp;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_stream_loses_and_repeats_no_result() {
    if !scamper_can_measure() {
        return;
    }
    let Measuring {
        app,
        home,
        probe: _probe,
        dir,
        ..
    } = Measuring::start().await;
    let data = dir.path().join("data");
    let addr = app.addr;

    let args = quick_ping_json();
    let mut child = tokio::process::Command::from(home.command(&args))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    while printed.len() < 2 {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("results while following")
            .unwrap()
            .expect("the CLI follows until the end");
        printed.push(line);
    }
    app.stop().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let app = TestApp::start_on(&data, addr).await;

    while let Some(line) = tokio::time::timeout(Duration::from_secs(150), lines.next_line())
        .await
        .expect("the operation ends")
        .unwrap()
    {
        printed.push(line);
    }
    let mut told = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut told)
        .await
        .unwrap();
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{told}");
    assert!(told.contains("reconnecting"), "{told}");
    // Under load the probe's last run may end after the stop minute: then the stop time ends
    // the stream, and a result stored later is not in it.
    let finished = told.contains("ended (every probe finished)");
    assert!(
        finished || told.contains("ended (its stop time passed)"),
        "{told}"
    );

    let ids: Vec<String> = printed
        .iter()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a result printed twice: {told}");
    let operation = told.split_whitespace().nth(1).unwrap().to_string();
    let stored: HashSet<String> = app
        .all_results(&operation)
        .await
        .iter()
        .map(|r| r["_id"].as_str().unwrap().to_string())
        .collect();
    let followed: HashSet<String> = ids.iter().cloned().collect();
    if finished {
        assert_eq!(stored, followed, "{told}");
    } else {
        assert!(followed.is_subset(&stored), "{told}");
    }
    app.stop().await;
}
