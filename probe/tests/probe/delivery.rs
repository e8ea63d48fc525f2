//! Results are delivered exactly once across a probe crash and a coordinator restart.

use crate::dns::DnsResponder;
use crate::helpers::{deploy, require_dig, scamper_can_measure, Deployment};
use crate::probe_process::ProbeProcess;
use serde_json::json;
use std::collections::HashSet;
use testkit::app::unique_codes;
use testkit::eventually;
use testkit::params::every_second;
use testkit::TestApp;

/// Waits until the probe holds at least `n` unacknowledged results; returns their codes.
async fn unacknowledged(probe: &ProbeProcess, n: usize) -> HashSet<String> {
    eventually(&format!("{n} results in the outbox"), 30, || async {
        let codes = probe.outbox_codes();
        (codes.len() >= n).then_some(codes)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_pending_when_the_probe_is_killed_are_delivered_once_after_it_restarts() {
    if !scamper_can_measure() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Deployment {
        coordinator,
        owner,
        probe_id,
        token,
        mut probe,
    } = deploy(dir.path(), &[]).await;
    let params = every_second(json!({"ips": ["127.0.0.1"], "probecount": 1}));
    let ping = coordinator
        .create_on(&owner, "ping", &probe_id, params, "json")
        .await;
    coordinator.first_result(&ping).await;

    // Nothing is acknowledged while the coordinator is down: the results pile up on disk.
    let (addr, data) = (coordinator.addr, dir.path().join("data"));
    coordinator.stop().await;
    let pending = unacknowledged(&probe, 3).await;
    probe.kill().await;
    let pending_at_kill = probe.outbox_codes();
    assert!(pending_at_kill.is_superset(&pending));

    let coordinator = TestApp::start_on(&data, addr).await;
    let restarted_at = chrono::Utc::now();
    let mut probe = ProbeProcess::spawn(dir.path(), addr, &token, &[]);
    coordinator.wait_stored(&ping, &pending_at_kill).await;

    // The operation resumed after the restart, and acknowledged results left the outbox.
    eventually("a result measured after the restart", 30, || async {
        let results = coordinator.all_results(&ping).await;
        results
            .iter()
            .any(|r| {
                r["measured_at"]
                    .as_str()
                    .unwrap()
                    .parse::<chrono::DateTime<chrono::Utc>>()
                    .unwrap()
                    > restarted_at
            })
            .then_some(())
    })
    .await;
    eventually("acknowledged results to leave the outbox", 30, || async {
        probe
            .outbox_codes()
            .is_disjoint(&pending_at_kill)
            .then_some(())
    })
    .await;
    unique_codes(&coordinator.all_results(&ping).await);
    probe.kill().await;
    coordinator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_measured_while_the_coordinator_restarts_arrive_after_the_reconnect() {
    require_dig();
    let resolver = DnsResponder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let Deployment {
        coordinator,
        owner,
        probe_id,
        mut probe,
        ..
    } = deploy(dir.path(), &resolver.resolver_args()).await;
    let params = every_second(json!({"x": "127.0.0.1"}));
    let lookup = coordinator
        .create_on(&owner, "dns", &probe_id, params, "text")
        .await;
    coordinator.first_result(&lookup).await;

    let (addr, data) = (coordinator.addr, dir.path().join("data"));
    coordinator.stop().await;
    let measured_while_down = unacknowledged(&probe, 3).await;
    let coordinator = TestApp::start_on(&data, addr).await;

    coordinator.wait_stored(&lookup, &measured_while_down).await;
    coordinator.wait_connected(&probe_id).await;
    assert!(probe.running(), "the probe must ride out the restart");
    let results = coordinator.all_results(&lookup).await;
    unique_codes(&results);
    assert!(results.iter().all(|r| r["error"].is_null()), "{results:?}");
    probe.kill().await;
    coordinator.stop().await;
}
