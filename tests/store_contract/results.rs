//! Results: stored once per (operation, probe, unique code), paid once, paginated in order.

use crate::backend::Backend;
use crate::fixtures::{
    balance, insert, result, results_of, reward, scene, stored_operation, stored_probe, Scene,
};
use pladmed::domain::{ResultId, MAX_CREDITS};
use pladmed::store::{Insertion, PageLimit, StoreError};

pub async fn result_is_stored_and_paid_once(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner,
        probe,
        operation,
    } = scene(store, 10, 10).await;
    let first = result(&operation, &probe, "run-1");
    let resent = result(&operation, &probe, "run-1");

    assert_eq!(insert(store, &first, 3).await, Insertion::Stored);
    assert_eq!(insert(store, &resent, 3).await, Insertion::Duplicate);

    assert_eq!(balance(store, &owner).await, 3);
    assert_eq!(results_of(store, &operation).await, vec![first]);
}

pub async fn concurrent_duplicates_store_one_and_pay_once(backend: &Backend) {
    let store = backend.open().await;
    let Scene {
        owner,
        probe,
        operation,
    } = scene(&*store, 0, 0).await;

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
    assert_eq!(results_of(&*store, &operation).await.len(), 1);
}

pub async fn same_code_elsewhere_is_a_new_result(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner,
        probe: p,
        operation: one,
    } = scene(store, 10, 0).await;
    let q = stored_probe(store, &owner).await;
    let two = stored_operation(store, &owner, &[&p, &q], 5).await;

    for (operation, probe) in [(&one, &p), (&two, &p), (&two, &q)] {
        let report = result(operation, probe, "run-1");
        assert_eq!(insert(store, &report, 1).await, Insertion::Stored);
    }

    assert_eq!(balance(store, &owner).await, 8);
    assert_eq!(results_of(store, &two).await.len(), 2);
}

pub async fn results_of_a_probe_without_the_assignment_are_refused(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner,
        probe,
        operation,
    } = scene(store, 10, 0).await;
    let stranger = stored_probe(store, &owner).await;
    let report = result(&operation, &stranger, "run-1");

    let refused = store.insert_result(&report, &reward(&stranger, 1)).await;

    assert_refused!(refused, StoreError::NotAssigned);
    assert!(results_of(store, &operation).await.is_empty());
    assert_eq!(balance(store, &owner).await, 10);
    let assigned = result(&operation, &probe, "run-1");
    assert_eq!(insert(store, &assigned, 1).await, Insertion::Stored);
}

pub async fn reward_past_the_maximum_stores_nothing(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner,
        probe,
        operation,
    } = scene(store, MAX_CREDITS, 0).await;
    let report = result(&operation, &probe, "run-1");

    let refused = store.insert_result(&report, &reward(&probe, 1)).await;

    assert_refused!(refused, StoreError::CreditOverflow);
    assert!(results_of(store, &operation).await.is_empty());
    assert_eq!(balance(store, &owner).await, MAX_CREDITS);
    let unpaid = insert(store, &report, 0).await;
    assert_eq!(unpaid, Insertion::Stored, "the code was not kept");
}

pub async fn results_are_paginated_in_storage_order(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner,
        probe: p,
        operation: other,
    } = scene(store, 10, 0).await;
    let q = stored_probe(store, &owner).await;
    let operation = stored_operation(store, &owner, &[&p, &q], 5).await;
    let mut stored = Vec::new();
    for (i, probe) in [&p, &q, &p, &q, &p].into_iter().enumerate() {
        let report = result(&operation, probe, &format!("run-{i}"));
        insert(store, &report, 0).await;
        insert(store, &result(&other, &p, &format!("run-{i}")), 0).await;
        stored.push(report);
    }

    let page = |after: Option<ResultId>, limit| {
        store.results(operation.id, after, PageLimit::count(limit))
    };
    let first = page(None, 2).await.unwrap();
    let second = page(Some(first[1].id), 2).await.unwrap();
    let third = page(Some(second[1].id), 2).await.unwrap();
    let beyond = page(Some(third[0].id), 2).await.unwrap();

    assert_eq!([first, second, third].concat(), stored);
    assert!(beyond.is_empty(), "{beyond:?}");
    assert_eq!(page(None, 100).await.unwrap(), stored);
    let none = page(None, 0).await.unwrap();
    assert!(none.is_empty(), "limit 0 means none, got {}", none.len());
}
