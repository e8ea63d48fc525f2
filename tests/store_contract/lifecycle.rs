//! The store as a whole: answering, keeping data across a reopen, starting over.

use crate::backend::Backend;
use crate::fixtures::{in_use, insert, result, results_of, scene, user, Scene};
use chrono::Utc;
use pladmed::store::{AssignmentState, AssignmentStep, Insertion, StoreError};

pub async fn ping_answers(backend: &Backend) {
    let store = backend.open().await;
    store.ping().await.expect("store answers");
}

pub async fn data_survives_reopening(backend: &Backend) {
    let store = backend.open().await;
    let Scene {
        owner,
        probe,
        operation,
    } = scene(&*store, 50, 20).await;
    let accepted = AssignmentState::Accepted;
    let moved = store.advance_assignment(AssignmentStep {
        operation: operation.id,
        probe: probe.id,
        to: accepted,
        credits: 4,
    });
    moved.await.unwrap();
    let report = result(&operation, &probe, "run-1");
    insert(&*store, &report, 2).await;
    drop(store);

    let store = &*backend.open().await;

    let reopened = store.user(owner.id).await.unwrap().unwrap();
    assert_eq!(reopened.credits.get(), 32);
    assert_eq!(in_use(store, &probe).await, Some(4));
    let state = store.assignment(operation.id, probe.id).await.unwrap();
    assert_eq!(state, Some(accepted));
    assert_eq!(results_of(store, &operation).await, vec![report.clone()]);
    assert_eq!(insert(store, &report, 2).await, Insertion::Duplicate);
    assert_eq!(
        store.operation(operation.id).await.unwrap(),
        Some(operation)
    );
    let mut same_address = user(0);
    same_address.email = owner.email;
    assert_refused!(
        store.insert_user(&same_address).await,
        StoreError::Duplicate("email")
    );
}

pub async fn delete_all_empties_every_collection(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner,
        probe,
        operation,
    } = scene(store, 50, 20).await;
    let report = result(&operation, &probe, "run-1");
    insert(store, &report, 2).await;

    store.delete_all().await.unwrap();

    assert_eq!(store.user(owner.id).await.unwrap(), None);
    assert_eq!(store.user_by_email(&owner.email).await.unwrap(), None);
    assert!(store.probes(None).await.unwrap().is_empty());
    assert!(store.operations(None).await.unwrap().is_empty());
    let assignment = store.assignment(operation.id, probe.id).await.unwrap();
    assert_eq!(assignment, None);
    let pending = store.pending_operations(probe.id, Utc::now()).await;
    assert!(pending.unwrap().is_empty());
    assert!(results_of(store, &operation).await.is_empty());
    store
        .insert_user(&owner)
        .await
        .expect("account created again");
    store
        .insert_probe(&probe, 100)
        .await
        .expect("probe created again");
    store
        .create_operation(&operation)
        .await
        .expect("operation created again");
    let again = insert(store, &report, 2).await;
    assert_eq!(again, Insertion::Stored, "the dedup index was emptied");
}
