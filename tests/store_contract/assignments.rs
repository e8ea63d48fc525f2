//! Assignments move forward only, and the probe's in-use credits follow them.

use crate::backend::Backend;
use crate::fixtures::{in_use, link, scene, stored_operation, stored_probe, stored_user, Scene};
use pladmed::domain::{OperationId, ProbeId};
use pladmed::store::{AssignmentState, AssignmentStep, Operation, Probe, Store, StoreError};
use AssignmentState::{Accepted, Assigned, Finished};

/// Moves `operation` on `probe` to `to`, reserving or releasing `credits`; whether it moved.
async fn advance(
    store: &dyn Store,
    operation: &Operation,
    probe: &Probe,
    to: AssignmentState,
    credits: u64,
) -> bool {
    let moved = store.advance_assignment(AssignmentStep {
        operation: operation.id,
        probe: probe.id,
        to,
        credits,
    });
    moved.await.expect("assignment exists")
}

/// The state of `operation` on `probe`.
async fn state(store: &dyn Store, operation: &Operation, probe: &Probe) -> Option<AssignmentState> {
    store.assignment(operation.id, probe.id).await.unwrap()
}

pub async fn accepting_then_finishing_moves_in_use_credits(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner,
        probe,
        operation: one,
        ..
    } = scene(store, 100, 1).await;
    let two = stored_operation(store, &owner, &[&probe], 1).await;

    assert!(advance(store, &one, &probe, Accepted, 7).await);
    assert!(advance(store, &two, &probe, Accepted, 5).await);
    assert_eq!(in_use(store, &probe).await, Some(12));
    assert_eq!(state(store, &one, &probe).await, Some(Accepted));

    assert!(advance(store, &one, &probe, Finished, 7).await);
    assert_eq!(in_use(store, &probe).await, Some(5));
    assert_eq!(state(store, &one, &probe).await, Some(Finished));
}

pub async fn finishing_without_accepting_releases_nothing(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner,
        probe,
        operation: held,
        ..
    } = scene(store, 100, 1).await;
    let skipped = stored_operation(store, &owner, &[&probe], 1).await;
    advance(store, &held, &probe, Accepted, 9).await;

    assert!(advance(store, &skipped, &probe, Finished, 9).await);

    assert_eq!(in_use(store, &probe).await, Some(9));
    assert_eq!(state(store, &skipped, &probe).await, Some(Finished));
}

pub async fn repeated_or_backward_moves_change_nothing(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        probe, operation, ..
    } = scene(store, 100, 1).await;
    let advance = |to| advance(store, &operation, &probe, to, 4);

    assert!(!advance(Assigned).await);
    assert!(advance(Accepted).await);
    assert!(!advance(Accepted).await);
    assert!(!advance(Assigned).await);
    assert_eq!(in_use(store, &probe).await, Some(4), "counted once");
    assert!(advance(Finished).await);
    assert!(!advance(Finished).await);
    assert!(!advance(Accepted).await);
    assert_eq!(in_use(store, &probe).await, Some(0), "released once");
    assert_eq!(state(store, &operation, &probe).await, Some(Finished));
}

pub async fn release_saturates_at_zero(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        probe, operation, ..
    } = scene(store, 100, 1).await;
    advance(store, &operation, &probe, Accepted, 8).await;
    // The probe reconnects and reports less in use than was counted.
    let relinked = link("instance-b", "again", 3);
    store.link_up(probe.id, &relinked).await.unwrap();

    advance(store, &operation, &probe, Finished, 8).await;

    assert_eq!(in_use(store, &probe).await, Some(0));
}

pub async fn moves_without_a_link_still_advance(backend: &Backend) {
    let store = &*backend.open().await;
    let owner = stored_user(store, 100).await;
    let probe = stored_probe(store, &owner).await;
    let operation = stored_operation(store, &owner, &[&probe], 1).await;

    assert!(advance(store, &operation, &probe, Accepted, 6).await);
    assert!(advance(store, &operation, &probe, Finished, 6).await);
    assert_eq!(in_use(store, &probe).await, None);
}

pub async fn unknown_assignment_is_not_assigned(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner,
        probe,
        operation,
        ..
    } = scene(store, 100, 1).await;
    let other = stored_probe(store, &owner).await;

    for (operation, probe) in [
        (operation.id, other.id),
        (OperationId::generate(), probe.id),
        (operation.id, ProbeId::generate()),
    ] {
        let refused = store
            .advance_assignment(AssignmentStep {
                operation,
                probe,
                to: Accepted,
                credits: 1,
            })
            .await;
        assert_refused!(refused, StoreError::NotAssigned);
        assert_eq!(store.assignment(operation, probe).await.unwrap(), None);
    }
}
