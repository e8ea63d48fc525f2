//! What a live stream reads: progress counts, and a tail of results that never passes a result
//! committed late with an earlier id (`pladmed::operations::tail`).

use crate::backend::Backend;
use crate::fixtures::{insert, linked_probe, result, scene, stored_operation, Scene};
use chrono::{DateTime, TimeZone, Utc};
use pladmed::domain::{OperationId, ResultId};
use pladmed::operations::ResultTail;
use pladmed::store::{AssignmentState, AssignmentStep, MeasurementResult, PageLimit, Progress};
use std::time::Duration;

/// `result` with an id created in second `second` (the rest of the id stays unique).
fn created_in(mut result: MeasurementResult, second: i64) -> MeasurementResult {
    let mut bytes = result.id.bytes();
    bytes[..4].copy_from_slice(&u32::try_from(second).unwrap().to_be_bytes());
    result.id = ResultId::from_bytes(bytes);
    result
}

fn at(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(second, 0).unwrap()
}

fn codes(results: &[MeasurementResult]) -> Vec<&str> {
    results.iter().map(|r| r.unique_code.as_str()).collect()
}

pub async fn progress_counts_assignments_by_state_and_results(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner, probe: p, ..
    } = scene(store, 10, 0).await;
    let q = linked_probe(store, &owner, "instance-a").await;
    let r = linked_probe(store, &owner, "instance-a").await;
    let operation = stored_operation(store, &owner, &[&p, &q, &r], 0).await;
    for (probe, to) in [
        (&p, AssignmentState::Accepted),
        (&q, AssignmentState::Finished),
    ] {
        let step = AssignmentStep {
            operation: operation.id,
            probe: probe.id,
            to,
            credits: 1,
        };
        assert!(store.advance_assignment(step).await.unwrap());
    }
    for code in ["a", "b", "c"] {
        insert(store, &result(&operation, &p, code), 0).await;
    }

    let progress = store.progress(operation.id).await.unwrap();
    assert_eq!(
        progress,
        Progress {
            assigned: 3,
            accepted: 2,
            finished: 1,
            results: 3
        }
    );
    let unknown = store.progress(OperationId::generate()).await.unwrap();
    assert_eq!(unknown, Progress::default());
}

/// The order trap: result B (id of second s) is visible first; result A (id of second s - 1,
/// created earlier, its write slower) appears after. A tail that had moved past B would never
/// see A; this one hands neither out before the horizon, then both, in order.
pub async fn tail_never_passes_a_result_committed_late_with_an_earlier_id(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        probe, operation, ..
    } = scene(store, 10, 0).await;
    let s = Utc::now().timestamp();
    let early = created_in(result(&operation, &probe, "early"), s - 1);
    let late = created_in(result(&operation, &probe, "late"), s);
    let page = PageLimit::count(100);
    let mut tail = ResultTail::new(operation.id, None, Duration::from_secs(2));

    insert(store, &late, 0).await;
    let before = tail.next(store, at(s + 1), page).await.unwrap();
    assert!(before.results.is_empty(), "handed out within the horizon");
    insert(store, &early, 0).await;
    // What a reader that had passed `late` reads: nothing, `early` is lost to it.
    let naive = store.results(operation.id, Some(late.id), page).await;
    assert!(naive.unwrap().is_empty());

    let settled = tail.next(store, at(s + 2), page).await.unwrap();
    assert_eq!(codes(&settled.results), ["early"], "only what settled");
    let settled = tail.next(store, at(s + 3), page).await.unwrap();
    assert_eq!(codes(&settled.results), ["late"]);
    assert_eq!(tail.cursor(), Some(late.id));
    assert!(tail
        .next(store, at(s + 9), page)
        .await
        .unwrap()
        .results
        .is_empty());
}

pub async fn tail_rest_hands_out_everything_once_and_pages(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        probe, operation, ..
    } = scene(store, 10, 0).await;
    for n in 0..5 {
        insert(store, &result(&operation, &probe, &format!("r{n}")), 0).await;
    }
    let mut tail = ResultTail::new(operation.id, None, Duration::from_secs(3600));
    assert!(tail
        .next(store, Utc::now(), PageLimit::count(2))
        .await
        .unwrap()
        .results
        .is_empty());
    let mut seen = Vec::new();
    loop {
        let page = tail.rest(store, PageLimit::count(2)).await.unwrap();
        seen.extend(page.results.iter().map(|r| r.unique_code.clone()));
        if !page.more {
            break;
        }
    }
    assert_eq!(seen, ["r0", "r1", "r2", "r3", "r4"]);
}
