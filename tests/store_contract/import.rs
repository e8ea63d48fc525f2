//! Records of another deployment (`pladmed import`): ids kept, each stored only if absent, no
//! debit, no reward, nothing delivered again; and the password hash a sign-in upgrades.

use crate::backend::Backend;
use crate::fixtures::{balance, now, operation, probe, result, results_of, stored_user, user};
use chrono::Duration;
use pladmed::store::{AssignmentState, ImportOutcome, ImportedOperation, StoreError};

pub async fn imported_users_and_probes_are_stored_once(backend: &Backend) {
    let store = backend.open().await;
    let owner = user(42);
    assert!(store.import_user(&owner).await.unwrap());
    let mut changed = owner.clone();
    changed.credits = crate::fixtures::credits(1);
    assert!(
        !store.import_user(&changed).await.unwrap(),
        "present: left as it is"
    );
    assert_eq!(store.user(owner.id).await.unwrap(), Some(owner.clone()));

    let mut other = user(0);
    other.email = owner.email.clone();
    assert_refused!(
        store.import_user(&other).await,
        StoreError::Duplicate("email")
    );
    assert_eq!(store.user(other.id).await.unwrap(), None);

    let probe = probe(&owner);
    assert!(store.import_probe(&probe).await.unwrap());
    assert!(!store.import_probe(&probe).await.unwrap());
    assert_eq!(store.probes(Some(owner.id)).await.unwrap(), vec![probe]);
}

pub async fn an_imported_operation_is_finished_unpaid_and_stored_once(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 10).await;
    let probe = probe(&owner);
    store.import_probe(&probe).await.unwrap();
    let mut imported = operation(&owner, &[&probe, &probe], 500);
    imported.created_at = now() - Duration::days(30);
    let results = vec![
        result(&imported, &probe, "a"),
        result(&imported, &probe, "b"),
    ];
    let import = ImportedOperation {
        operation: imported.clone(),
        results: results.clone(),
    };

    let first = store.import_operation(&import).await.unwrap();
    assert_eq!(
        first,
        ImportOutcome {
            operation: true,
            results: 2
        }
    );
    let again = store.import_operation(&import).await.unwrap();
    assert_eq!(again, ImportOutcome::default());

    assert_eq!(
        store.operation(imported.id).await.unwrap(),
        Some(imported.clone())
    );
    assert_eq!(results_of(&*store, &imported).await, results);
    assert_eq!(
        balance(&*store, &owner).await,
        10,
        "neither debited nor paid"
    );
    let state = store.assignment(imported.id, probe.id).await.unwrap();
    assert_eq!(state, Some(AssignmentState::Finished));
    let pending = store.pending_operations(probe.id, now()).await.unwrap();
    assert!(pending.is_empty(), "nothing is delivered again");
}

pub async fn a_password_hash_is_replaced_only_if_unchanged(backend: &Backend) {
    let store = backend.open().await;
    let account = stored_user(&*store, 0).await;
    let old = account.password_hash.clone();
    assert!(store
        .replace_password_hash(account.id, &old, "$argon2id$new")
        .await
        .unwrap());
    assert!(!store
        .replace_password_hash(account.id, &old, "$argon2id$other")
        .await
        .unwrap());
    let stored = store.user(account.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash, "$argon2id$new");
    let nobody = user(0).id;
    assert!(!store
        .replace_password_hash(nobody, &old, "x")
        .await
        .unwrap());
}
