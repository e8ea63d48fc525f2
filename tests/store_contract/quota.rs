//! Result quotas: an assignment stores (and pays for) at most its operation's
//! `max_results_per_probe` results, each measured within the operation's window; a re-sent
//! result is still a duplicate, even when the quota is full.

use crate::backend::Backend;
use crate::fixtures::{
    balance, insert, operation, result, results_of, reward, stored_probe, stored_user, Scene,
};
use chrono::Duration;
use pladmed::store::{
    Insertion, MeasurementResult, Operation, Probe, Reward, Store, StoreError, User,
};
use probe_protocol::params::{CLOCK_TOLERANCE, STOP_MINUTE};
use std::sync::Arc;

/// A [`Scene`] (its owner without credits) whose operation allows `quota` results per probe.
async fn scene_with_quota(store: &dyn Store, quota: u64) -> Scene {
    let owner = stored_user(store, 0).await;
    let probe = stored_probe(store, &owner).await;
    let operation = stored_operation_with_quota(store, &owner, &[&probe], quota).await;
    Scene {
        owner,
        probe,
        operation,
    }
}

async fn stored_operation_with_quota(
    store: &dyn Store,
    owner: &User,
    probes: &[&Probe],
    quota: u64,
) -> Operation {
    let mut operation = operation(owner, probes, 0);
    operation.max_results_per_probe = quota;
    store.create_operation(&operation).await.expect("stored");
    operation
}

pub async fn results_past_the_quota_are_refused_unpaid_but_duplicates_still_ack(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner,
        probe,
        operation,
    } = scene_with_quota(store, 3).await;
    let stored: Vec<_> = (0..3)
        .map(|i| result(&operation, &probe, &format!("run-{i}")))
        .collect();
    for report in &stored {
        assert_eq!(insert(store, report, 10).await, Insertion::Stored);
    }

    let extra = result(&operation, &probe, "run-3");
    let refused = store.insert_result(&extra, &reward(&probe, 10)).await;

    assert_refused!(refused, StoreError::OverQuota(3));
    assert_eq!(balance(store, &owner).await, 30);
    assert_eq!(results_of(store, &operation).await, stored);
    let resent = result(&operation, &probe, "run-1");
    assert_eq!(insert(store, &resent, 10).await, Insertion::Duplicate);
    assert_eq!(balance(store, &owner).await, 30);
}

pub async fn results_measured_outside_the_window_are_refused_unpaid(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner,
        probe,
        operation,
    } = scene_with_quota(store, 10).await;
    let slack = Duration::seconds(1);
    let too_early = operation.created_at - CLOCK_TOLERANCE - slack;
    let too_late = operation.stop_time + STOP_MINUTE + CLOCK_TOLERANCE + slack;
    for (code, measured_at) in [("early", too_early), ("late", too_late)] {
        let mut report = result(&operation, &probe, code);
        report.measured_at = measured_at;
        let refused = store.insert_result(&report, &reward(&probe, 10)).await;
        assert_refused!(refused, StoreError::OutsideWindow { .. });
    }
    assert!(results_of(store, &operation).await.is_empty());
    assert_eq!(balance(store, &owner).await, 0);

    let edges = [
        operation.created_at - CLOCK_TOLERANCE + slack,
        operation.stop_time + STOP_MINUTE + CLOCK_TOLERANCE - slack,
    ];
    for (i, measured_at) in edges.into_iter().enumerate() {
        let mut report = result(&operation, &probe, &format!("edge-{i}"));
        report.measured_at = measured_at;
        assert_eq!(insert(store, &report, 10).await, Insertion::Stored);
    }
    assert_eq!(balance(store, &owner).await, 20);
}

pub async fn concurrent_results_never_pass_the_quota(backend: &Backend) {
    let store = backend.open().await;
    let Scene {
        owner,
        probe,
        operation,
    } = scene_with_quota(&*store, 5).await;

    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let (report, reward) = (
                result(&operation, &probe, &format!("run-{i}")),
                reward(&probe, 10),
            );
            tokio::spawn(async move { insert_retrying(&*store, &report, &reward).await })
        })
        .collect();
    let (mut stored, mut over) = (0, 0);
    for attempt in attempts {
        match attempt.await.expect("task finishes") {
            Ok(Insertion::Stored) => stored += 1,
            Err(StoreError::OverQuota(5)) => over += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    assert_eq!((stored, over), (5, 15));
    assert_eq!(balance(&*store, &owner).await, 50);
    assert_eq!(results_of(&*store, &operation).await.len(), 5);
}

pub async fn each_probe_has_its_own_quota_and_it_survives_reopening(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 0).await;
    let (p, q) = (
        stored_probe(&*store, &owner).await,
        stored_probe(&*store, &owner).await,
    );
    let operation = stored_operation_with_quota(&*store, &owner, &[&p, &q], 2).await;
    for probe in [&p, &q] {
        for i in 0..2 {
            let report = result(&operation, probe, &format!("run-{i}"));
            assert_eq!(insert(&*store, &report, 1).await, Insertion::Stored);
        }
    }
    drop(store);

    let store = &*backend.open().await;

    for probe in [&p, &q] {
        let extra = result(&operation, probe, "run-2");
        let refused = store.insert_result(&extra, &reward(probe, 1)).await;
        assert_refused!(refused, StoreError::OverQuota(2));
    }
    assert_eq!(balance(store, &owner).await, 4);
    assert_eq!(results_of(store, &operation).await.len(), 4);
}

/// Sends a result as a probe does: again while the store answers "unavailable, try again".
async fn insert_retrying(
    store: &dyn Store,
    report: &MeasurementResult,
    reward: &Reward,
) -> Result<Insertion, StoreError> {
    for _ in 0..50 {
        match store.insert_result(report, reward).await {
            Err(StoreError::Unavailable(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            outcome => return outcome,
        }
    }
    panic!("still unavailable after 50 tries")
}

/// A probe back from an outage re-sends results already stored together with its last new one.
/// The duplicates must not take the last slot from the new result: it is stored, perhaps after
/// an "unavailable, try again", never refused as over quota (the probe would drop it for good).
pub async fn resent_duplicates_never_crowd_out_the_last_new_result(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 0).await;
    let probe = stored_probe(&*store, &owner).await;
    for _ in 0..5 {
        let operation = stored_operation_with_quota(&*store, &owner, &[&probe], 3).await;
        return_to(&store, &operation, &probe, 2).await;
    }
}

/// Stores results `0..last` of `operation`, then sends them again at once, followed by `last`.
async fn return_to(store: &Arc<dyn Store>, operation: &Operation, probe: &Probe, last: usize) {
    for i in 0..last {
        let report = result(operation, probe, &format!("run-{i}"));
        assert_eq!(insert(&**store, &report, 10).await, Insertion::Stored);
    }
    let backlog: Vec<_> = (0..=last)
        .map(|i| {
            let store = store.clone();
            let report = result(operation, probe, &format!("run-{i}"));
            let reward = reward(probe, 10);
            tokio::spawn(async move { insert_retrying(&*store, &report, &reward).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for sent in backlog {
        outcomes.push(sent.await.expect("task finishes"));
    }
    let new = outcomes.pop().expect("the last result");
    assert!(
        matches!(new, Ok(Insertion::Stored)),
        "the new result got {new:?}"
    );
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Ok(Insertion::Duplicate))));
    assert_eq!(results_of(&**store, operation).await.len(), last + 1);
}
