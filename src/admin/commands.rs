//! Executing admin requests against a store: the server does it for the admin socket, the CLI
//! does it itself when no server holds the store.

use super::protocol::{Refusal, Request, Response};
use crate::accounts::{self, PasswordHashing, RegisterError};
use crate::domain::{Credits, Email, ProbeId};
use crate::hub::Hub;
use crate::probes::revocation;
use crate::store::{Store, StoreError};

/// Runs `request` on `store`; links to close are looked up in `hub`; a password is hashed
/// within `hashing`'s bound.
pub async fn execute(
    store: &dyn Store,
    hub: &dyn Hub,
    hashing: &PasswordHashing,
    request: Request,
) -> Response {
    let outcome = match request {
        Request::CreateSuperuser { email, password } => {
            create_superuser(store, hashing, &email, &password).await
        }
        Request::GrantCredits { email, credits } => grant_credits(store, &email, credits).await,
        Request::RevokeProbe { probe } => revoke_probe(store, hub, &probe).await,
        Request::RemoveProbe { probe } => remove_probe(store, hub, &probe).await,
    };
    outcome.unwrap_or_else(|refused| refused)
}

type Outcome = Result<Response, Response>;

async fn create_superuser(
    store: &dyn Store,
    hashing: &PasswordHashing,
    email: &str,
    password: &str,
) -> Outcome {
    match accounts::register(store, hashing, email, password, true).await {
        Ok(user) => {
            tracing::info!(user = %user.id, email = %user.email, "superuser created");
            Ok(Response::SuperuserCreated {
                id: user.id.to_string(),
                email: user.email.as_str().to_owned(),
            })
        }
        Err(RegisterError::Invalid(message)) => Err(Response::refused(Refusal::Invalid, message)),
        Err(error @ RegisterError::Taken) => Err(Response::refused(
            Refusal::Conflict,
            format!("email: {error}"),
        )),
        Err(RegisterError::Store(error)) => Err(store_failure(error)),
        Err(RegisterError::Busy(busy)) => {
            Err(Response::refused(Refusal::Unavailable, busy.to_string()))
        }
    }
}

async fn grant_credits(store: &dyn Store, email: &str, credits: u64) -> Outcome {
    let invalid = |message: String| Response::refused(Refusal::Invalid, message);
    let email = Email::parse(email).map_err(|e| invalid(format!("email: {e}")))?;
    let amount = Credits::new(credits)
        .ok()
        .filter(|_| credits > 0)
        .ok_or_else(|| invalid("credits: must be a whole number greater than zero".into()))?;
    let not_found = || Response::refused(Refusal::NotFound, format!("no account {email}"));
    let user = store
        .user_by_email(&email)
        .await
        .map_err(store_failure)?
        .ok_or_else(not_found)?;
    let user = store
        .add_credits(user.id, amount)
        .await
        .map_err(store_failure)?
        .ok_or_else(not_found)?;
    tracing::info!(user = %user.id, %amount, "credits granted by an operator");
    Ok(Response::CreditsGranted {
        email: user.email.as_str().to_owned(),
        balance: user.credits.get(),
    })
}

async fn revoke_probe(store: &dyn Store, hub: &dyn Hub, raw_id: &str) -> Outcome {
    let id = probe_id(raw_id)?;
    let revoked = revocation::revoke(store, hub, id)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| unknown_probe(id))?;
    Ok(Response::ProbeRevoked {
        probe: id.to_string(),
        token_version: revoked.probe.token_version,
        link_closed: revoked.link_closed,
    })
}

async fn remove_probe(store: &dyn Store, hub: &dyn Hub, raw_id: &str) -> Outcome {
    let id = probe_id(raw_id)?;
    let link_closed = revocation::remove(store, hub, id)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| unknown_probe(id))?;
    Ok(Response::ProbeRemoved {
        probe: id.to_string(),
        link_closed,
    })
}

fn probe_id(raw: &str) -> Result<ProbeId, Response> {
    raw.parse().map_err(|_| {
        Response::refused(
            Refusal::Invalid,
            format!("probe: {raw:?} is not a probe identifier (24 hex digits)"),
        )
    })
}

fn unknown_probe(id: ProbeId) -> Response {
    Response::refused(Refusal::NotFound, format!("probe {id} doesn't exist"))
}

fn store_failure(error: StoreError) -> Response {
    let reason = match error {
        StoreError::CreditOverflow => Refusal::Invalid,
        StoreError::NotFound(_) => Refusal::NotFound,
        StoreError::Duplicate(_) => Refusal::Conflict,
        _ => Refusal::Unavailable,
    };
    Response::refused(reason, error.to_string())
}
