//! Creating accounts, for /register and for the `superuser create` command alike.

use super::{HashingBusy, Password, PasswordHashing};
use crate::domain::{Credits, Email, UserId};
use crate::store::{Store, StoreError, User};

/// Why an account was not created.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The e-mail or password breaks a rule; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// The address has an account already.
    #[error("That email is already registered")]
    Taken,
    /// Too many password hashes in progress; retry shortly.
    #[error(transparent)]
    Busy(#[from] HashingBusy),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// Checks the address and the password policy, hashes the password off the async runtime
/// within the `hashing` bound and stores the account with zero credits.
pub async fn register(
    store: &dyn Store,
    hashing: &PasswordHashing,
    email: &str,
    password: &str,
    is_superuser: bool,
) -> Result<User, RegisterError> {
    let email = Email::parse(email).map_err(|e| RegisterError::Invalid(format!("email: {e}")))?;
    let password = Password::parse(password).map_err(|e| RegisterError::Invalid(e.to_string()))?;
    let password_hash = hashing.run(move || password.hash()).await?;
    let user = User {
        id: UserId::generate(),
        email,
        password_hash,
        credits: Credits::ZERO,
        is_superuser,
    };
    match store.insert_user(&user).await {
        Ok(()) => Ok(user),
        Err(StoreError::Duplicate(_)) => Err(RegisterError::Taken),
        Err(e) => Err(RegisterError::Store(e)),
    }
}
