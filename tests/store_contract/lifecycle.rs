//! The store as a whole: answering, keeping data across a reopen, starting over.

use crate::backend::Backend;
use crate::fixtures::{
    in_use, linked_probe, result, reward, stored_operation, stored_probe, stored_user, user,
};
use chrono::Utc;
use pladmed::store::{AssignmentState, Insertion, StoreError};

pub async fn ping_answers(backend: &Backend) {
    let store = backend.open().await;
    store.ping().await.expect("store answers");
}

pub async fn data_survives_reopening(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 50).await;
    let probe = linked_probe(&*store, &owner, "instance-a").await;
    let operation = stored_operation(&*store, &owner, &[&probe], 20).await;
    store
        .advance_assignment(operation.id, probe.id, AssignmentState::Accepted, 4)
        .await
        .unwrap();
    let report = result(&operation, &probe, "run-1");
    store
        .insert_result(&report, &reward(&probe, 2))
        .await
        .unwrap();
    drop(store);

    let store = backend.open().await;

    let reopened = store.user(owner.id).await.unwrap().unwrap();
    assert_eq!(reopened.credits.get(), 32);
    assert_eq!(in_use(&*store, &probe).await, Some(4));
    assert_eq!(
        store.operation(operation.id).await.unwrap(),
        Some(operation.clone())
    );
    let state = store.assignment(operation.id, probe.id).await.unwrap();
    assert_eq!(state, Some(AssignmentState::Accepted));
    assert_eq!(
        store.results(operation.id, None, 10).await.unwrap(),
        vec![report.clone()]
    );
    let resent = store.insert_result(&report, &reward(&probe, 2)).await;
    assert_eq!(resent.unwrap(), Insertion::Duplicate);
    let mut same_address = user(0);
    same_address.email = owner.email.clone();
    let refused = store.insert_user(&same_address).await;
    assert!(
        matches!(refused, Err(StoreError::Duplicate("email"))),
        "{refused:?}"
    );
}

pub async fn delete_all_empties_every_collection(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 50).await;
    let probe = stored_probe(&*store, &owner).await;
    let operation = stored_operation(&*store, &owner, &[&probe], 20).await;
    let report = result(&operation, &probe, "run-1");
    store
        .insert_result(&report, &reward(&probe, 2))
        .await
        .unwrap();

    store.delete_all().await.unwrap();

    assert_eq!(store.user(owner.id).await.unwrap(), None);
    assert_eq!(store.user_by_email(&owner.email).await.unwrap(), None);
    assert!(store.probes(None).await.unwrap().is_empty());
    assert!(store.operations(None).await.unwrap().is_empty());
    assert_eq!(
        store.assignment(operation.id, probe.id).await.unwrap(),
        None
    );
    assert!(store
        .pending_operations(probe.id, Utc::now())
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .results(operation.id, None, 10)
        .await
        .unwrap()
        .is_empty());
    store
        .insert_user(&owner)
        .await
        .expect("the account can be created again");
    let again = store.insert_result(&report, &reward(&probe, 2)).await;
    assert_eq!(
        again.unwrap(),
        Insertion::Stored,
        "the dedup index was emptied"
    );
}
