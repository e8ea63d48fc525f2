//! Accounts and their balances.

use super::tables::{get, put, USERS, USERS_BY_EMAIL};
use crate::domain::{Credits, Email, UserId};
use crate::store::{StoreError, StoreResult, User};
use redb::{ReadTransaction, ReadableTable, Table, WriteTransaction};

/// Inserts `user` unless its address (or id) is taken.
pub(super) fn insert_user(txn: &WriteTransaction, user: &User) -> StoreResult<()> {
    let mut by_email = txn.open_table(USERS_BY_EMAIL)?;
    let email = user.email.as_str().as_bytes();
    if by_email.get(email)?.is_some() {
        return Err(StoreError::Duplicate("email"));
    }
    let mut users = txn.open_table(USERS)?;
    let id = user.id.bytes();
    if users.get(&id[..])?.is_some() {
        return Err(StoreError::Duplicate("user"));
    }
    by_email.insert(email, &id[..])?;
    put(&mut users, &id, user)
}

/// The account with that address.
pub(super) fn user_by_email(txn: &ReadTransaction, email: &Email) -> StoreResult<Option<User>> {
    let by_email = txn.open_table(USERS_BY_EMAIL)?;
    let Some(id) = by_email.get(email.as_str().as_bytes())? else {
        return Ok(None);
    };
    let user = get(&txn.open_table(USERS)?, id.value())?;
    // The index and the table are written together; an entry without its user is damage.
    user.map(Some)
        .ok_or_else(|| StoreError::Corrupt(format!("e-mail index points to no user: {email}")))
}

/// The account with that id.
pub(super) fn user(txn: &ReadTransaction, id: UserId) -> StoreResult<Option<User>> {
    get(&txn.open_table(USERS)?, &id.bytes())
}

/// Replaces the password hash if it is still `current`.
pub(super) fn replace_password_hash(
    txn: &WriteTransaction,
    id: UserId,
    current: &str,
    new: &str,
) -> StoreResult<bool> {
    let mut users = txn.open_table(USERS)?;
    let key = id.bytes();
    match get::<User>(&users, &key)? {
        Some(mut user) if user.password_hash == current => {
            user.password_hash = new.to_owned();
            put(&mut users, &key, &user)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Adds `amount` to a balance; `None` if there is no such account.
pub(super) fn add_credits(
    txn: &WriteTransaction,
    id: UserId,
    amount: Credits,
) -> StoreResult<Option<User>> {
    match pay(txn, id, amount) {
        Err(StoreError::NotFound(_)) => Ok(None),
        other => other.map(Some),
    }
}

/// Pays `amount` to an account and returns it updated: [`StoreError::CreditOverflow`] past the
/// maximum balance, [`StoreError::NotFound`] if there is no such account.
pub(super) fn pay(txn: &WriteTransaction, id: UserId, amount: Credits) -> StoreResult<User> {
    let mut users = txn.open_table(USERS)?;
    change_balance(&mut users, id, |b| {
        b.checked_add(amount).ok_or(StoreError::CreditOverflow)
    })
}

/// Takes `amount` from an account: [`StoreError::NotEnoughCredits`] if the balance is smaller.
pub(super) fn debit(txn: &WriteTransaction, id: UserId, amount: Credits) -> StoreResult<()> {
    let mut users = txn.open_table(USERS)?;
    change_balance(&mut users, id, |b| {
        b.checked_sub(amount).ok_or(StoreError::NotEnoughCredits)
    })
    .map(drop)
}

/// Replaces a user's balance by `change(balance)` and returns the updated user;
/// [`StoreError::NotFound`] if there is no such user.
fn change_balance(
    users: &mut Table<&'static [u8], &'static [u8]>,
    id: UserId,
    change: impl FnOnce(Credits) -> StoreResult<Credits>,
) -> StoreResult<User> {
    let key = id.bytes();
    let mut user: User = get(users, &key)?.ok_or(StoreError::NotFound("user"))?;
    user.credits = change(user.credits)?;
    put(users, &key, &user)?;
    Ok(user)
}
