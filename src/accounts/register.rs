//! Creating accounts, for /register and for the `superuser create` command alike.

use super::{Email, Password};
use crate::credits::Credits;
use crate::ids::UserId;
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
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// Checks the address and the password policy, hashes the password off the async runtime and
/// stores the account with zero credits.
pub async fn register(
    store: &dyn Store,
    email: &str,
    password: &str,
    is_superuser: bool,
) -> Result<User, RegisterError> {
    let email = Email::parse(email).map_err(|e| RegisterError::Invalid(format!("email: {e}")))?;
    let password = Password::parse(password).map_err(|e| RegisterError::Invalid(e.to_string()))?;
    let password_hash = tokio::task::spawn_blocking(move || password.hash())
        .await
        .map_err(|e| {
            RegisterError::Store(StoreError::Unavailable(format!("hashing task failed: {e}")))
        })?;
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
