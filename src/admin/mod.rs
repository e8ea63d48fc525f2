//! Administration: the commands an operator runs (`pladmed superuser create`, `credits grant`,
//! `probe revoke`, `probe remove`), executed by the running server through its admin socket
//! when it holds the embedded store, or directly against the store otherwise; and the
//! superuser the environment asks for at startup.

pub mod client;
mod commands;
pub mod protocol;
pub mod socket;

pub use commands::execute;
pub use protocol::{Refusal, Request, Response};
pub use socket::AdminSocket;

use crate::accounts::{self, PasswordHashing, RegisterError};
use crate::config::{Settings, StorageSettings, SuperuserSettings};
use crate::hub::LocalHub;
use crate::store::{Store, StoreError};
use client::ClientError;

/// Why an admin command could not be run at all (a refusal is a [`Response`] instead).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The running server could not be asked.
    #[error(transparent)]
    Socket(#[from] ClientError),
    /// No server answered and the store could not be opened.
    #[error("{0} (a server running on this data directory answers on its admin socket; is it an older version, or was the socket removed?)")]
    Store(StoreError),
}

/// Runs `request` where it can be run: on the embedded store, by the server listening on the
/// data directory's admin socket, else on the store opened here; on MongoDB, always on the
/// database directly (a running server notices as `docs/security.md` describes).
pub async fn run(settings: &Settings, request: Request) -> Result<Response, AdminError> {
    if let StorageSettings::Embedded { dir } = &settings.storage {
        match client::send(&socket::socket_path(dir), &request).await {
            Err(ClientError::NoServer(_)) => {}
            answered => return Ok(answered?),
        }
    }
    let store = crate::startup::open_store(settings)
        .await
        .map_err(AdminError::Store)?;
    // No probe is linked to this process: the hub is empty, kicks find no one.
    let hashing = PasswordHashing::new(settings.limits.hash_concurrency);
    Ok(execute(store.as_ref(), &LocalHub::new(), &hashing, request).await)
}

/// Creates the superuser named by `PLADMED_SUPERUSER_EMAIL` unless that address has an
/// account: an existing account is left as it is (its password and rights included), so a
/// restart with the same environment changes nothing.
pub async fn ensure_superuser(
    store: &dyn Store,
    hashing: &PasswordHashing,
    wanted: &SuperuserSettings,
) -> Result<(), RegisterError> {
    let existing = store.user_by_email(&wanted.email).await;
    if let Some(user) = existing.map_err(RegisterError::Store)? {
        tracing::info!(email = %user.email, is_superuser = user.is_superuser, "PLADMED_SUPERUSER_EMAIL has an account already: left as it is");
        return Ok(());
    }
    match accounts::register(
        store,
        hashing,
        wanted.email.as_str(),
        &wanted.password,
        true,
    )
    .await
    {
        Ok(user) => {
            tracing::info!(user = %user.id, email = %user.email, "superuser from PLADMED_SUPERUSER_EMAIL created");
            Ok(())
        }
        Err(RegisterError::Taken) => {
            tracing::info!(email = %wanted.email, "PLADMED_SUPERUSER_EMAIL has an account already: left as it is");
            Ok(())
        }
        Err(error) => Err(error),
    }
}
