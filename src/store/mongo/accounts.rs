//! Accounts and balances.
//!
//! Balances change only through conditional `$inc` updates: the filter states what must hold
//! (enough credits, room below the maximum) and the server applies the increment atomically, so
//! concurrent changes can neither overdraw nor overflow a balance.

use super::transaction::{self, Abort};
use super::{errors, indexes, MongoStore, USERS};
use crate::domain::{Credits, UserId, MAX_CREDITS};
use crate::store::{StoreError, StoreResult, User};
use bson::{doc, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;

pub(super) async fn insert_user(store: &MongoStore, user: &User) -> StoreResult<()> {
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
pub(super) async fn add_credits(
    store: &MongoStore,
    id: UserId,
    amount: Credits,
) -> StoreResult<Option<User>> {
    let updated = store
        .users
        .find_one_and_update(room_for(id, amount), increment(amount.as_i64()))
        .return_document(ReturnDocument::After)
        .await
        .map_err(errors::from_driver)?;
    match updated {
        Some(doc) => User::try_from(doc).map(Some),
        None if exists(store, id, None).await.map_err(errors::from_driver)? => {
            Err(StoreError::CreditOverflow)
        }
        None => Ok(None),
    }
}

/// Pays `amount` to `id` inside a transaction; rolls it back if the balance would overflow or
/// there is no such user.
pub(super) async fn pay<T>(
    store: &MongoStore,
    session: &mut ClientSession,
    id: UserId,
    amount: Credits,
) -> Result<(), Abort<T>> {
    let paid = store
        .users
        .update_one(room_for(id, amount), increment(amount.as_i64()))
        .session(&mut *session)
        .await
        .map_err(transaction::updating)?;
    if paid.matched_count == 1 {
        return Ok(());
    }
    Err(Abort::refuse(if exists(store, id, Some(session)).await? {
        StoreError::CreditOverflow
    } else {
        StoreError::NotFound("user")
    }))
}

/// Debits `amount` from `id` inside a transaction; rolls it back if the balance does not cover
/// it or there is no such user.
pub(super) async fn debit<T>(
    store: &MongoStore,
    session: &mut ClientSession,
    id: UserId,
    amount: Credits,
) -> Result<(), Abort<T>> {
    let covered = doc! { "_id": id.oid(), "credits": { "$gte": amount.as_i64() } };
    let debited = store
        .users
        .update_one(covered, increment(-amount.as_i64()))
        .session(&mut *session)
        .await
        .map_err(transaction::updating)?;
    if debited.matched_count == 1 {
        return Ok(());
    }
    Err(Abort::refuse(if exists(store, id, Some(session)).await? {
        StoreError::NotEnoughCredits
    } else {
        StoreError::NotFound("user")
    }))
}

/// Matches the user if adding `amount` keeps the balance within [`MAX_CREDITS`].
fn room_for(id: UserId, amount: Credits) -> Document {
    let ceiling = MAX_CREDITS - amount.get();
    doc! { "_id": id.oid(), "credits": { "$lte": ceiling as i64 } }
}

fn increment(by: i64) -> Document {
    doc! { "$inc": { "credits": by } }
}

/// Whether the user exists (in the transaction's snapshot, given its session).
async fn exists(
    store: &MongoStore,
    id: UserId,
    session: Option<&mut ClientSession>,
) -> Result<bool, mongodb::error::Error> {
    let users = store.raw(USERS);
    let find = users
        .find_one(doc! { "_id": id.oid() })
        .projection(doc! { "_id": 1 });
    let found = match session {
        Some(session) => find.session(session).await?,
        None => find.await?,
    };
    Ok(found.is_some())
}
