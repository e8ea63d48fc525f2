//! Many writers on one owner at once: what batches results and pays them per owner (and debits
//! without a transaction) must keep exact.

use crate::backend::Backend;
use crate::fixtures::{balance, linked_probe, operation, result, results_of, reward, stored_user};
use pladmed::store::{Insertion, Store};
use std::sync::Arc;

pub async fn results_of_many_probes_and_their_resends_are_stored_and_paid_once(backend: &Backend) {
    let store: Arc<dyn Store> = backend.open().await;
    let owner = stored_user(&*store, 0).await;
    let mut probes = Vec::new();
    for _ in 0..4 {
        probes.push(linked_probe(&*store, &owner, "instance-a").await);
    }
    let assigned: Vec<_> = probes.iter().collect();
    let operation = operation(&owner, &assigned, 0);
    store.create_operation(&operation).await.expect("stored");

    // 4 probes × 25 results, each sent twice, all at once.
    let sends: Vec<_> = (0..2)
        .flat_map(|_| {
            probes
                .iter()
                .flat_map(|p| (0..25).map(move |n| (p.clone(), n)))
        })
        .map(|(probe, n)| {
            let (store, report) = (store.clone(), result(&operation, &probe, &format!("r{n}")));
            let reward = reward(&probe, 3);
            tokio::spawn(async move { store.insert_result(&report, &reward).await })
        })
        .collect();
    let mut stored = 0;
    for send in sends {
        if send.await.expect("task ends").expect("no error") == Insertion::Stored {
            stored += 1;
        }
    }

    assert_eq!(stored, 100);
    assert_eq!(results_of(&*store, &operation).await.len(), 100);
    assert_eq!(balance(&*store, &owner).await, 300);
}

pub async fn debits_and_rewards_of_one_owner_interleave_exactly(backend: &Backend) {
    let store: Arc<dyn Store> = backend.open().await;
    let owner = stored_user(&*store, 1_000).await;
    let probe = linked_probe(&*store, &owner, "instance-a").await;
    let paid_for = operation(&owner, &[&probe], 0);
    store.create_operation(&paid_for).await.expect("stored");

    let debits: Vec<_> = (0..30)
        .map(|_| {
            let (store, bought) = (store.clone(), operation(&owner, &[&probe], 7));
            tokio::spawn(async move { store.create_operation(&bought).await.map(|()| bought.id) })
        })
        .collect();
    let rewards: Vec<_> = (0..60)
        .map(|n| {
            let (store, report) = (store.clone(), result(&paid_for, &probe, &format!("r{n}")));
            let reward = reward(&probe, 2);
            tokio::spawn(async move { store.insert_result(&report, &reward).await })
        })
        .collect();
    let mut bought = Vec::new();
    for debit in debits {
        bought.push(debit.await.expect("task ends").expect("debited"));
    }
    for reward in rewards {
        let stored = reward.await.expect("task ends").expect("paid");
        assert_eq!(stored, Insertion::Stored);
    }

    assert_eq!(balance(&*store, &owner).await, 1_000 - 30 * 7 + 60 * 2);
    for id in bought {
        assert!(
            store.operation(id).await.unwrap().is_some(),
            "operation {id}"
        );
    }
}
