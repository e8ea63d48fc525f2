//! Operations: the debit, the assignments created with them, and what is pending for a probe.

use crate::backend::Backend;
use crate::fixtures::{balance, now, operation, stored_operation, stored_probe, stored_user};
use chrono::{Duration, DurationRound};
use pladmed::store::{AssignmentState, AssignmentStep, StoreError};

pub async fn create_operation_debits_exactly_and_assigns_every_probe(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 100).await;
    let (p, q, other) = (
        stored_probe(&*store, &owner).await,
        stored_probe(&*store, &owner).await,
        stored_probe(&*store, &owner).await,
    );

    let created = stored_operation(&*store, &owner, &[&p, &q], 37).await;

    assert_eq!(balance(&*store, &owner).await, 63);
    assert_eq!(
        store.operation(created.id).await.unwrap().as_ref(),
        Some(&created)
    );
    for probe in [&p, &q] {
        let state = store.assignment(created.id, probe.id).await.unwrap();
        assert_eq!(state, Some(AssignmentState::Assigned));
    }
    assert_eq!(store.assignment(created.id, other.id).await.unwrap(), None);
}

pub async fn operations_are_listed_in_creation_order_and_by_owner(backend: &Backend) {
    let store = backend.open().await;
    let (alice, bob) = (
        stored_user(&*store, 100).await,
        stored_user(&*store, 100).await,
    );
    let probe = stored_probe(&*store, &alice).await;
    let mut created = Vec::new();
    for owner in [&alice, &bob, &alice, &bob] {
        created.push(stored_operation(&*store, owner, &[&probe], 1).await);
    }

    let all = store.operations(None).await.unwrap();
    let of_bob = store.operations(Some(bob.id)).await.unwrap();

    assert_eq!(all, created);
    let expected: Vec<_> = created.into_iter().filter(|o| o.owner == bob.id).collect();
    assert_eq!(of_bob, expected);
}

pub async fn not_enough_credits_changes_nothing(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 9).await;
    let probe = stored_probe(&*store, &owner).await;
    let too_costly = operation(&owner, &[&probe], 10);

    let refused = store.create_operation(&too_costly).await;

    assert_refused!(refused, StoreError::NotEnoughCredits);
    assert_eq!(balance(&*store, &owner).await, 9);
    assert_eq!(store.operation(too_costly.id).await.unwrap(), None);
    assert!(store.operations(None).await.unwrap().is_empty());
    assert_eq!(
        store.assignment(too_costly.id, probe.id).await.unwrap(),
        None
    );
}

pub async fn concurrent_operations_never_overdraw(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 100).await;
    let probe = stored_probe(&*store, &owner).await;

    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let (store, operation) = (store.clone(), operation(&owner, &[&probe], 10));
            tokio::spawn(async move { store.create_operation(&operation).await })
        })
        .collect();
    let mut created = 0;
    for attempt in attempts {
        match attempt.await.expect("task finishes") {
            Ok(()) => created += 1,
            Err(StoreError::NotEnoughCredits) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }

    assert_eq!(created, 10);
    assert_eq!(balance(&*store, &owner).await, 0);
    assert_eq!(store.operations(Some(owner.id)).await.unwrap().len(), 10);
}

/// Pending means assigned, not accepted, and not over: an operation runs through its whole
/// stop minute, so one stopping in the current minute is still delivered.
pub async fn pending_operations_are_assigned_and_unexpired(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 100).await;
    let (probe, other) = (
        stored_probe(&*store, &owner).await,
        stored_probe(&*store, &owner).await,
    );
    let first = stored_operation(&*store, &owner, &[&probe, &other], 1).await;
    let accepted = stored_operation(&*store, &owner, &[&probe], 1).await;
    let mut expired = operation(&owner, &[&probe], 1);
    // Its stop minute ended a second ago.
    expired.stop_time = now() - Duration::seconds(61);
    store.create_operation(&expired).await.unwrap();
    let mut this_minute = operation(&owner, &[&probe], 1);
    this_minute.stop_time = now().duration_trunc(Duration::minutes(1)).unwrap();
    store.create_operation(&this_minute).await.unwrap();
    let not_mine = stored_operation(&*store, &owner, &[&other], 1).await;
    let last = stored_operation(&*store, &owner, &[&probe], 1).await;
    store
        .advance_assignment(AssignmentStep {
            operation: accepted.id,
            probe: probe.id,
            to: AssignmentState::Accepted,
            credits: 5,
        })
        .await
        .unwrap();

    let pending = store.pending_operations(probe.id, now()).await.unwrap();
    let later = store
        .pending_operations(probe.id, now() + Duration::hours(2))
        .await
        .unwrap();

    assert_eq!(pending, vec![first.clone(), this_minute, last]);
    assert!(later.is_empty(), "{later:?}");
    let for_other = store.pending_operations(other.id, now()).await.unwrap();
    assert_eq!(for_other, vec![first, not_mine]);
}
