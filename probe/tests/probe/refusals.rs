//! Results the coordinator refuses for good (past the operation's quota, or measured outside
//! its window) are dropped from the probe's outbox, one by one, over a link that stays up; the
//! operation itself keeps running.

use crate::helpers::{deploy, Deployment};
use crate::probe_process::ProbeProcess;
use chrono::{TimeDelta, Timelike, Utc};
use pladmed_probe::outbox::Outbox;
use probe_protocol::params::format_stop_time;
use probe_protocol::{ContentFormat, ResultReport};
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use testkit::eventually;

/// More results than the probe keeps unacknowledged on a link (32): were refused ones to stay
/// in flight, nothing else could be delivered.
const EXTRA_RESULTS: usize = 40;

/// Writes `EXTRA_RESULTS` results of `operation` measured now, and one measured a year ago,
/// into the outbox in `state_dir`, as the probe's own outbox would hold them; returns their
/// codes.
async fn seed_results(state_dir: &Path, operation: &str) -> HashSet<String> {
    let outbox = Outbox::open(state_dir.join("outbox"), Arc::default()).unwrap();
    let a_year_ago = Utc::now() - TimeDelta::days(365);
    let measured = (0..EXTRA_RESULTS)
        .map(|i| (format!("extra-{i:03}"), Utc::now()))
        .chain([("last-year".to_string(), a_year_ago)]);
    let mut codes = HashSet::new();
    for (code, measured_at) in measured {
        let report = ResultReport {
            operation_id: operation.into(),
            unique_code: code.clone(),
            format: ContentFormat::Json,
            content: json!([]).into(),
            measured_at,
            error: None,
        };
        outbox.put(report).await.unwrap();
        codes.insert(code);
    }
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_the_coordinator_refuses_for_good_are_dropped_over_a_link_that_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let Deployment {
        coordinator,
        owner,
        probe_id,
        token,
        mut probe,
    } = deploy(dir.path(), &[]).await;
    // One execution, ten minutes from now: its quota is one result, and the probe runs nothing
    // during the test.
    let fires = Utc::now() + TimeDelta::minutes(10);
    let params = json!({
        "cron": format!("{} {} * * *", fires.minute(), fires.hour()),
        "stop_time": format_stop_time(fires + TimeDelta::minutes(2)),
        "times_per_minute": 1,
        "ips": ["127.0.0.1"],
    });
    let operation = coordinator
        .create_on(&owner, "ping", &probe_id, params, "json")
        .await;
    let record = probe
        .state_dir
        .join("operations")
        .join(format!("{operation}.json"));
    eventually("the probe to take the operation on", 20, || async {
        record.exists().then_some(())
    })
    .await;
    probe.kill().await;
    let seeded = seed_results(&probe.state_dir, &operation).await;

    let mut probe = ProbeProcess::spawn(dir.path(), coordinator.addr, &token, &[]);
    eventually("every seeded result to leave the outbox", 30, || async {
        probe.outbox_codes().is_disjoint(&seeded).then_some(())
    })
    .await;

    let stored = coordinator.all_results(&operation).await;
    assert_eq!(
        stored.len(),
        1,
        "the quota of a one-execution ping: {stored:?}"
    );
    let log = probe.log();
    let refusals = |reason: &str| {
        log.lines()
            .filter(|l| l.contains("refused a result for good") && l.contains(reason))
            .count()
    };
    assert_eq!(refusals("over_quota"), EXTRA_RESULTS - 1, "{log}");
    assert_eq!(refusals("outside_window"), 1, "{log}");
    assert_eq!(
        log.matches("link up").count(),
        1,
        "one link all along: {log}"
    );
    assert!(!log.contains("link down"), "{log}");
    assert!(record.exists(), "the operation itself is kept");
    assert!(probe.running());
    probe.kill().await;
    coordinator.stop().await;
}
