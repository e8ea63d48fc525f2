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

/// Operations of several owners created at once: each owner pays for exactly what its balance
/// covers, every operation paid for is stored with its assignments, and an owner without an
/// account pays nothing and is told so (the MongoDB store pays for concurrent operations of
/// one owner in one update, and must answer each as if it were alone).
pub async fn concurrent_operations_of_several_owners_are_each_paid_exactly(backend: &Backend) {
    let store = backend.open().await;
    let (short, rich) = (
        stored_user(&*store, 55).await,
        stored_user(&*store, 100).await,
    );
    let nobody = crate::fixtures::user(1_000);
    let (p, q) = (
        stored_probe(&*store, &short).await,
        stored_probe(&*store, &rich).await,
    );
    let mut attempts = Vec::new();
    for _ in 0..8 {
        for (owner, cost) in [(&short, 10), (&rich, 7), (&nobody, 1)] {
            let operation = operation(owner, &[&p, &q], cost);
            let store = store.clone();
            attempts.push(tokio::spawn(async move {
                let outcome = store.create_operation(&operation).await;
                (operation, outcome)
            }));
        }
    }
    let mut created = std::collections::HashMap::new();
    for attempt in attempts {
        let (operation, outcome) = attempt.await.expect("task finishes");
        match outcome {
            Ok(()) => {
                *created.entry(operation.owner).or_insert(0) += 1;
                for probe in [&p, &q] {
                    let state = store.assignment(operation.id, probe.id).await.unwrap();
                    assert_eq!(state, Some(AssignmentState::Assigned));
                }
            }
            Err(StoreError::NotEnoughCredits) => assert_eq!(operation.owner, short.id),
            Err(StoreError::NotFound("user")) => assert_eq!(operation.owner, nobody.id),
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }

    assert_eq!(created.get(&short.id), Some(&5));
    assert_eq!(created.get(&rich.id), Some(&8));
    assert_eq!(created.get(&nobody.id), None);
    assert_eq!(balance(&*store, &short).await, 5);
    assert_eq!(balance(&*store, &rich).await, 44);
    assert_eq!(store.operations(Some(short.id)).await.unwrap().len(), 5);
    assert_eq!(store.operations(Some(rich.id)).await.unwrap().len(), 8);
    assert!(store.operations(Some(nobody.id)).await.unwrap().is_empty());
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
