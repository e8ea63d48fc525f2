//! Results: stored once per (operation, probe, unique code), paid once, paginated in order.

use crate::backend::Backend;
use crate::fixtures::{balance, result, reward, stored_operation, stored_probe, stored_user};
use pladmed::credits::MAX_CREDITS;
use pladmed::ids::ResultId;
use pladmed::store::{Insertion, StoreError};

pub async fn result_is_stored_and_paid_once(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 10).await;
    let probe = stored_probe(&*store, &owner).await;
    let operation = stored_operation(&*store, &owner, &[&probe], 10).await;
    let first = result(&operation, &probe, "run-1");
    let resent = result(&operation, &probe, "run-1");

    let stored = store.insert_result(&first, &reward(&probe, 3)).await;
    let again = store.insert_result(&resent, &reward(&probe, 3)).await;

    assert_eq!(stored.unwrap(), Insertion::Stored);
    assert_eq!(again.unwrap(), Insertion::Duplicate);
    assert_eq!(balance(&*store, &owner).await, 3);
    assert_eq!(
        store.results(operation.id, None, 10).await.unwrap(),
        vec![first]
    );
}

pub async fn concurrent_duplicates_store_one_and_pay_once(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 0).await;
    let probe = stored_probe(&*store, &owner).await;
    let operation = stored_operation(&*store, &owner, &[&probe], 0).await;

    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let (copy, reward) = (result(&operation, &probe, "same"), reward(&probe, 2));
            tokio::spawn(async move { store.insert_result(&copy, &reward).await })
        })
        .collect();
    let mut stored = 0;
    for attempt in attempts {
        match attempt.await.expect("task finishes").expect("no error") {
            Insertion::Stored => stored += 1,
            Insertion::Duplicate => {}
        }
    }

    assert_eq!(stored, 1);
    assert_eq!(balance(&*store, &owner).await, 2);
    assert_eq!(
        store.results(operation.id, None, 100).await.unwrap().len(),
        1
    );
}

pub async fn same_code_elsewhere_is_a_new_result(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 10).await;
    let (p, q) = (
        stored_probe(&*store, &owner).await,
        stored_probe(&*store, &owner).await,
    );
    let one = stored_operation(&*store, &owner, &[&p, &q], 5).await;
    let two = stored_operation(&*store, &owner, &[&p], 5).await;

    for (operation, probe) in [(&one, &p), (&one, &q), (&two, &p)] {
        let inserted = store
            .insert_result(&result(operation, probe, "run-1"), &reward(probe, 1))
            .await;
        assert_eq!(inserted.unwrap(), Insertion::Stored);
    }

    assert_eq!(balance(&*store, &owner).await, 3);
    assert_eq!(store.results(one.id, None, 10).await.unwrap().len(), 2);
}

pub async fn reward_past_the_maximum_stores_nothing(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, MAX_CREDITS).await;
    let probe = stored_probe(&*store, &owner).await;
    let operation = stored_operation(&*store, &owner, &[&probe], 0).await;
    let report = result(&operation, &probe, "run-1");

    let refused = store.insert_result(&report, &reward(&probe, 1)).await;

    assert!(
        matches!(refused, Err(StoreError::CreditOverflow)),
        "{refused:?}"
    );
    assert!(store
        .results(operation.id, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(balance(&*store, &owner).await, MAX_CREDITS);
    let unpaid = store.insert_result(&report, &reward(&probe, 0)).await;
    assert_eq!(unpaid.unwrap(), Insertion::Stored, "the code was not kept");
}

pub async fn results_are_paginated_in_storage_order(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 10).await;
    let (p, q) = (
        stored_probe(&*store, &owner).await,
        stored_probe(&*store, &owner).await,
    );
    let operation = stored_operation(&*store, &owner, &[&p, &q], 5).await;
    let other = stored_operation(&*store, &owner, &[&p], 5).await;
    let mut stored = Vec::new();
    for (i, probe) in [&p, &q, &p, &q, &p].into_iter().enumerate() {
        let report = result(&operation, probe, &format!("run-{i}"));
        store
            .insert_result(&report, &reward(probe, 0))
            .await
            .unwrap();
        let elsewhere = result(&other, &p, &format!("run-{i}"));
        store
            .insert_result(&elsewhere, &reward(&p, 0))
            .await
            .unwrap();
        stored.push(report);
    }

    let page = |after: Option<ResultId>, limit| store.results(operation.id, after, limit);
    let first = page(None, 2).await.unwrap();
    let second = page(Some(first[1].id), 2).await.unwrap();
    let third = page(Some(second[1].id), 2).await.unwrap();
    let beyond = page(Some(third[0].id), 2).await.unwrap();

    assert_eq!([first, second, third].concat(), stored);
    assert!(beyond.is_empty(), "{beyond:?}");
    assert_eq!(page(None, 100).await.unwrap(), stored);
    assert!(
        page(None, 0).await.unwrap().is_empty(),
        "limit 0 means none"
    );
}
