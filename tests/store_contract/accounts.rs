//! Accounts: the unique e-mail index and checked balances.

use crate::backend::Backend;
use crate::fixtures::{balance, credits, stored_user, user};
use pladmed::domain::{Email, UserId, MAX_CREDITS};
use pladmed::store::StoreError;

pub async fn user_is_found_by_email_and_by_id(backend: &Backend) {
    let store = backend.open().await;
    let alice = stored_user(&*store, 7).await;
    let bob = stored_user(&*store, 0).await;

    assert_eq!(store.user(alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.user_by_email(&bob.email).await.unwrap(), Some(bob));
    assert_eq!(store.user(UserId::generate()).await.unwrap(), None);
    let nobody = Email::parse("nobody@example.com").unwrap();
    assert_eq!(store.user_by_email(&nobody).await.unwrap(), None);
}

pub async fn duplicate_email_is_refused(backend: &Backend) {
    let store = backend.open().await;
    let first = stored_user(&*store, 1).await;
    let mut second = user(2);
    second.email = first.email.clone();

    let refused = store.insert_user(&second).await;

    assert_refused!(refused, StoreError::Duplicate("email"));
    assert_eq!(
        store.user_by_email(&first.email).await.unwrap(),
        Some(first)
    );
    assert_eq!(store.user(second.id).await.unwrap(), None);
}

pub async fn duplicate_email_is_refused_after_delete_all(backend: &Backend) {
    let store = backend.open().await;
    let first = stored_user(&*store, 1).await;
    store.delete_all().await.unwrap();
    let mut again = user(2);
    again.email = first.email.clone();
    let mut twice = user(3);
    twice.email = first.email.clone();

    store.insert_user(&again).await.expect("address free again");
    let refused = store.insert_user(&twice).await;

    assert_refused!(refused, StoreError::Duplicate("email"));
    assert_eq!(
        store.user_by_email(&first.email).await.unwrap(),
        Some(again)
    );
}

pub async fn add_credits_returns_the_updated_user(backend: &Backend) {
    let store = backend.open().await;
    let alice = stored_user(&*store, 10).await;

    let updated = store.add_credits(alice.id, credits(32)).await.unwrap();

    assert_eq!(updated.map(|u| u.credits.get()), Some(42));
    assert_eq!(balance(&*store, &alice).await, 42);
}

pub async fn add_credits_to_unknown_user_is_none(backend: &Backend) {
    let store = backend.open().await;
    let added = store.add_credits(UserId::generate(), credits(5)).await;
    assert_eq!(added.unwrap(), None);
}

pub async fn add_credits_past_the_maximum_is_refused(backend: &Backend) {
    let store = backend.open().await;
    let rich = stored_user(&*store, MAX_CREDITS - 1).await;

    let refused = store.add_credits(rich.id, credits(2)).await;
    let filled = store.add_credits(rich.id, credits(1)).await.unwrap();

    assert_refused!(refused, StoreError::CreditOverflow);
    assert_eq!(filled.map(|u| u.credits.get()), Some(MAX_CREDITS));
}
