//! Assignments move forward only, and the probe's in-use credits follow them.

use crate::backend::Backend;
use crate::fixtures::{in_use, link, linked_probe, stored_operation, stored_probe, stored_user};
use pladmed::ids::{OperationId, ProbeId};
use pladmed::store::{AssignmentState, StoreError};
use AssignmentState::{Accepted, Assigned, Finished};

pub async fn accepting_then_finishing_moves_in_use_credits(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 100).await;
    let probe = linked_probe(&*store, &owner, "instance-a").await;
    let (one, two) = (
        stored_operation(&*store, &owner, &[&probe], 1).await,
        stored_operation(&*store, &owner, &[&probe], 1).await,
    );

    assert!(store
        .advance_assignment(one.id, probe.id, Accepted, 7)
        .await
        .unwrap());
    assert!(store
        .advance_assignment(two.id, probe.id, Accepted, 5)
        .await
        .unwrap());
    assert_eq!(in_use(&*store, &probe).await, Some(12));
    assert_eq!(
        store.assignment(one.id, probe.id).await.unwrap(),
        Some(Accepted)
    );

    assert!(store
        .advance_assignment(one.id, probe.id, Finished, 7)
        .await
        .unwrap());
    assert_eq!(in_use(&*store, &probe).await, Some(5));
    assert_eq!(
        store.assignment(one.id, probe.id).await.unwrap(),
        Some(Finished)
    );
}

pub async fn finishing_without_accepting_releases_nothing(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 100).await;
    let probe = linked_probe(&*store, &owner, "instance-a").await;
    let (held, skipped) = (
        stored_operation(&*store, &owner, &[&probe], 1).await,
        stored_operation(&*store, &owner, &[&probe], 1).await,
    );
    store
        .advance_assignment(held.id, probe.id, Accepted, 9)
        .await
        .unwrap();

    let moved = store
        .advance_assignment(skipped.id, probe.id, Finished, 9)
        .await;

    assert!(moved.unwrap());
    assert_eq!(in_use(&*store, &probe).await, Some(9));
    assert_eq!(
        store.assignment(skipped.id, probe.id).await.unwrap(),
        Some(Finished)
    );
}

pub async fn repeated_or_backward_moves_change_nothing(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 100).await;
    let probe = linked_probe(&*store, &owner, "instance-a").await;
    let operation = stored_operation(&*store, &owner, &[&probe], 1).await;
    let advance = |to| store.advance_assignment(operation.id, probe.id, to, 4);

    assert!(!advance(Assigned).await.unwrap());
    assert!(advance(Accepted).await.unwrap());
    assert!(!advance(Accepted).await.unwrap());
    assert!(!advance(Assigned).await.unwrap());
    assert_eq!(in_use(&*store, &probe).await, Some(4), "counted once");
    assert!(advance(Finished).await.unwrap());
    assert!(!advance(Finished).await.unwrap());
    assert!(!advance(Accepted).await.unwrap());
    assert_eq!(in_use(&*store, &probe).await, Some(0), "released once");
    assert_eq!(
        store.assignment(operation.id, probe.id).await.unwrap(),
        Some(Finished)
    );
}

pub async fn release_saturates_at_zero(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 100).await;
    let probe = linked_probe(&*store, &owner, "instance-a").await;
    let operation = stored_operation(&*store, &owner, &[&probe], 1).await;
    store
        .advance_assignment(operation.id, probe.id, Accepted, 8)
        .await
        .unwrap();
    // The probe reconnects and reports less in use than was counted.
    store
        .link_up(probe.id, &link("instance-b", "again", 3))
        .await
        .unwrap();

    store
        .advance_assignment(operation.id, probe.id, Finished, 8)
        .await
        .unwrap();

    assert_eq!(in_use(&*store, &probe).await, Some(0));
}

pub async fn moves_without_a_link_still_advance(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 100).await;
    let probe = stored_probe(&*store, &owner).await;
    let operation = stored_operation(&*store, &owner, &[&probe], 1).await;

    assert!(store
        .advance_assignment(operation.id, probe.id, Accepted, 6)
        .await
        .unwrap());
    assert!(store
        .advance_assignment(operation.id, probe.id, Finished, 6)
        .await
        .unwrap());
    assert_eq!(in_use(&*store, &probe).await, None);
}

pub async fn unknown_assignment_is_not_assigned(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 100).await;
    let (probe, other) = (
        stored_probe(&*store, &owner).await,
        stored_probe(&*store, &owner).await,
    );
    let operation = stored_operation(&*store, &owner, &[&probe], 1).await;

    for (operation, probe) in [
        (operation.id, other.id),
        (OperationId::generate(), probe.id),
        (operation.id, ProbeId::generate()),
    ] {
        let refused = store
            .advance_assignment(operation, probe, Accepted, 1)
            .await;
        assert!(
            matches!(refused, Err(StoreError::NotAssigned)),
            "{refused:?}"
        );
        assert_eq!(store.assignment(operation, probe).await.unwrap(), None);
    }
}
