//! A large backlog of results (after a long outage) goes out at the pace the coordinator
//! allows, over one link that is never closed, and each result is stored once.

use crate::probe_process::ProbeProcess;
use chrono::{TimeDelta, Utc};
use probe_protocol::params::format_stop_time;
use probe_protocol::{ContentFormat, ResultReport};
use serde_json::json;
use std::collections::HashSet;
use testkit::app::unique_codes;
use testkit::eventually;
use testkit::TestApp;

const BACKLOG: usize = 5_000;

/// Writes `BACKLOG` results of about 1.5 KB into the outbox of a probe not yet started, as a
/// previous run would have left them; returns their codes.
fn leave_backlog(state_dir: &std::path::Path, operation: &str) -> HashSet<String> {
    let outbox = state_dir.join("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    // Measured after the operation was created, as its result window requires.
    let start = Utc::now();
    (0..BACKLOG)
        .map(|n| {
            let report = ResultReport {
                operation_id: operation.into(),
                unique_code: format!("backlog-{n:05}"),
                format: ContentFormat::Text,
                content: json!("x".repeat(1_400)).into(),
                measured_at: start + TimeDelta::milliseconds(n as i64),
                error: None,
            };
            let path = outbox.join(format!("{}.json", report.unique_code));
            std::fs::write(path, serde_json::to_vec(&report).unwrap()).unwrap();
            report.unique_code
        })
        .collect()
}

/// Before the window was part of the protocol, the default 500 messages per second closed the
/// link with 4005 as soon as acks came back fast, again after every reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_5000_results_is_flushed_over_one_link_never_closed() {
    let dir = tempfile::tempdir().unwrap();
    let coordinator = TestApp::start(&dir.path().join("data")).await;
    let owner = coordinator
        .funded_user("backlog@example.org", 1_000_000)
        .await
        .token;
    let (probe_id, token) = coordinator.register_probe(&owner).await;
    // An operation needs a connected probe; a first run of the probe takes it.
    let mut first = ProbeProcess::spawn(dir.path(), coordinator.addr, &token, &[]);
    coordinator.wait_connected(&probe_id).await;
    // Every second for 90 minutes: a quota of more than 5,400 results.
    let stop = format_stop_time(Utc::now() + TimeDelta::minutes(90));
    let params =
        json!({"cron": "* * * * *", "stop_time": stop, "times_per_minute": 60, "x": "127.0.0.1"});
    let lookup = coordinator
        .create_on(&owner, "dns", &probe_id, params, "text")
        .await;
    first.kill().await;
    let backlog = leave_backlog(&first.state_dir, &lookup);

    // dig is `true` here: the runs add results with no output, which are not the point.
    let args = ["--dig".to_string(), "true".to_string()];
    let probe = ProbeProcess::spawn(dir.path(), coordinator.addr, &token, &args);
    eventually("the backlog to be acknowledged", 90, || async {
        probe.outbox_codes().is_disjoint(&backlog).then_some(())
    })
    .await;
    let stored = unique_codes(&coordinator.all_results(&lookup).await);
    assert!(stored.is_superset(&backlog), "every result stored");
    let log = probe.log();
    assert!(!log.contains("link down"), "the link must stay up: {log}");
    assert_eq!(log.matches("link up").count(), 1, "one link: {log}");
    coordinator.stop().await;
}
