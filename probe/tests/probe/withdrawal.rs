//! An operation the coordinator no longer has (deleted while the probe held it): at the
//! coordinator's `unknown_operation` the probe stops it, forgets it, discards its results and
//! keeps its link for the rest of its work.

use crate::dns::DnsResponder;
use crate::helpers::{acknowledged_lookup, deploy, require_dig, Deployment};
use crate::probe_process::ProbeProcess;
use chrono::{TimeDelta, Utc};
use pladmed_probe::ledger::Ledger;
use pladmed_probe::outbox::Outbox;
use probe_protocol::{ContentFormat, OperationKind, OperationOrder, ResultFormat, ResultReport};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use testkit::eventually;
use testkit::params::every_second;

/// A well-formed operation id that no coordinator of these tests ever created.
const GONE: &str = "65a1b2c3d4e5f60718293a4b";
/// More stale results than the probe keeps unacknowledged on a link (32): were they to stay in
/// flight, nothing else could be delivered.
const STALE_RESULTS: usize = 40;

/// Writes into `state_dir`, through the probe's own ledger and outbox, what a probe holds of
/// an operation deleted while it was down: `GONE`, unfinished (a DNS lookup every second), and
/// `STALE_RESULTS` of its results.
async fn seed_stale_operation(state_dir: &Path) {
    let ledger = Ledger::open(state_dir.join("operations"), Arc::default()).unwrap();
    let params = every_second(json!({"x": "127.0.0.1"}));
    let order = OperationOrder {
        operation_id: GONE.into(),
        kind: OperationKind::Dns,
        params: params.as_object().unwrap().clone(),
        credits: 1,
        result_format: ResultFormat::Text,
    };
    ledger.admit(order, Utc::now()).await.unwrap();
    let outbox = Outbox::open(state_dir.join("outbox"), Arc::default()).unwrap();
    let an_hour_ago = Utc::now() - TimeDelta::hours(1);
    for i in 0..STALE_RESULTS {
        let report = ResultReport {
            operation_id: GONE.into(),
            unique_code: format!("stale-{i:03}"),
            format: ContentFormat::Text,
            content: json!("answer").into(),
            measured_at: an_hour_ago + TimeDelta::seconds(i as i64),
            error: None,
        };
        outbox.put(report).await.unwrap();
    }
}

/// The results of `GONE` waiting in the probe's outbox.
fn stale_results(probe: &ProbeProcess) -> usize {
    let outbox = probe.outbox();
    outbox.iter().filter(|r| r["operation_id"] == GONE).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_the_coordinator_no_longer_has_is_dropped_over_a_link_that_stays_up() {
    require_dig();
    let resolver = DnsResponder::start().await;
    let dir = tempfile::tempdir().unwrap();
    seed_stale_operation(&dir.path().join("state")).await;
    let Deployment {
        coordinator,
        owner,
        probe_id,
        mut probe,
        ..
    } = deploy(dir.path(), &resolver.resolver_args()).await;

    eventually("the stale results to leave the outbox", 20, || async {
        (stale_results(&probe) == 0).then_some(())
    })
    .await;
    let record = probe
        .state_dir
        .join("operations")
        .join(format!("{GONE}.json"));
    assert!(!record.exists(), "the stale operation is forgotten");

    // A fresh operation still runs, and its result is stored and acknowledged.
    acknowledged_lookup(&coordinator, &owner, &probe_id, &probe).await;

    // The stale operation was stopped: two of its run times later, it measured nothing more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stale_results(&probe), 0);
    let log = probe.log();
    assert_eq!(
        log.matches("link up").count(),
        1,
        "one link all along: {log}"
    );
    assert!(!log.contains("link down"), "{log}");
    let named = format!("operation={GONE}");
    assert!(
        log.lines()
            .any(|l| l.contains(&named) && l.contains("stopped and forgotten")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains(&named) && l.contains("discarded: nothing can store them")),
        "{log}"
    );
    assert_eq!(coordinator.probe_view(&probe_id).await["connected"], true);
    assert!(probe.running());
    probe.kill().await;
    coordinator.stop().await;
}
