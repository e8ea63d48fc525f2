//! Accounts and balances.
//!
//! Balances change only through conditional `$inc` updates: the filter states what must hold
//! (enough credits, room below the maximum) and the server applies the increment atomically, so
//! concurrent changes can neither overdraw nor overflow a balance.

use super::{errors, indexes, Handles, USERS};
use crate::domain::{Credits, UserId, MAX_CREDITS};
use crate::store::{StoreError, StoreResult, User};
use bson::{doc, Document};
use mongodb::options::ReturnDocument;

pub(super) async fn insert_user(store: &Handles, user: &User) -> StoreResult<()> {
    match store.users.insert_one(super::UserDoc::from(user)).await {
        Ok(_) => Ok(()),
        Err(e) => Err(match errors::duplicate_key(&e) {
            Some(index) if index.contains(indexes::USER_EMAIL) => StoreError::Duplicate("email"),
            Some(_) => StoreError::Duplicate("user"),
            None => errors::from_driver(e),
        }),
    }
}

/// One `find_one_and_update`, so the returned balance is exactly the one this call produced.
/// The account `filter` matches, read without the markers its document may carry (pending
/// debits, settlement entries): every request's authentication reads it.
pub(super) async fn find(store: &Handles, filter: Document) -> StoreResult<Option<User>> {
    let found = store
        .users
        .find_one(filter)
        .projection(account_fields())
        .await
        .map_err(errors::from_driver)?;
    found.map(User::try_from).transpose()
}

fn account_fields() -> Document {
    doc! { "email": 1, "password": 1, "credits": 1, "is_superuser": 1 }
}

pub(super) async fn add_credits(
    store: &Handles,
    id: UserId,
    amount: Credits,
) -> StoreResult<Option<User>> {
    let updated = store
        .users
        .find_one_and_update(room_for(id, amount), increment(amount.as_i64()))
        .return_document(ReturnDocument::After)
        .projection(account_fields())
        .await
        .map_err(errors::from_driver)?;
    match updated {
        Some(doc) => User::try_from(doc).map(Some),
        None if exists(store, id).await? => Err(StoreError::CreditOverflow),
        None => Ok(None),
    }
}

/// Matches the user if adding `amount` keeps the balance within [`MAX_CREDITS`].
pub(super) fn room_for(id: UserId, amount: Credits) -> Document {
    let ceiling = MAX_CREDITS - amount.get();
    doc! { "_id": id.oid(), "credits": { "$lte": ceiling as i64 } }
}

fn increment(by: i64) -> Document {
    doc! { "$inc": { "credits": by } }
}

/// Whether the user exists.
pub(super) async fn exists(store: &Handles, id: UserId) -> StoreResult<bool> {
    let found = store
        .raw(USERS)
        .find_one(doc! { "_id": id.oid() })
        .projection(doc! { "_id": 1 })
        .await
        .map_err(errors::from_driver)?;
    Ok(found.is_some())
}
