//! /register, /login, /users/me, /credits.

use super::error::ApiError;
use super::openapi::{BAD_REQUEST, HASHING_BUSY};
use super::replies::{self, AccessToken, ErrorBody};
use crate::accounts::{self, check_password, Check, RegisterError};
use crate::domain::{Credits, Email, UserId};
use crate::state::AppState;
use crate::store::User;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::Reply;

/// POST /register and /login.
#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    /// E-mail address.
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "researcher@example.org")]
    email: Option<String>,
    /// At register: at least 8 characters with a lower-case and an upper-case letter, a digit
    /// and a symbol.
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "Str0ng!Pass")]
    password: Option<String>,
}

impl Credentials {
    /// Both fields, or a 400 naming the first missing (an empty one is missing, as the
    /// original).
    fn present(self) -> Result<(String, String), ApiError> {
        let email = self.email.filter(|e| !e.is_empty());
        let password = self.password.filter(|p| !p.is_empty());
        match (email, password) {
            (None, _) => Err(ApiError::BadRequest("Missing email field".into())),
            (_, None) => Err(ApiError::BadRequest("Missing password field".into())),
            (Some(e), Some(p)) => Ok((e, p)),
        }
    }
}

/// Creates an account → 201 with the new user.
#[utoipa::path(
    post, path = "/register", tag = "accounts", operation_id = "register_account", summary = "Create an account",
    request_body = Credentials,
    responses(
        (status = 201, description = "The account", body = replies::User),
        (status = 400, description = BAD_REQUEST, body = ErrorBody),
        (status = 429, description = "Too many sign-ins and registrations from this address; see `Retry-After`", body = ErrorBody),
        (status = 503, description = HASHING_BUSY, body = ErrorBody),
    )
)]
pub async fn register(state: AppState, body: Credentials) -> Result<impl Reply, ApiError> {
    let (email, password) = body.present()?;
    let user = accounts::register(
        state.store.as_ref(),
        &state.hashing,
        &email,
        &password,
        false,
    )
    .await
    .map_err(|e| match e {
        RegisterError::Store(e) => ApiError::from(e),
        RegisterError::Busy(busy) => ApiError::from(busy),
        other => ApiError::BadRequest(other.to_string()),
    })?;
    tracing::info!(user = %user.id, "user registered");
    Ok(warp::reply::with_status(
        warp::reply::json(&replies::User::from(&user)),
        StatusCode::CREATED,
    ))
}

/// Signs in → 200 with a user token; wrong credentials → 404, as the original.
#[utoipa::path(
    post, path = "/login", tag = "accounts", summary = "Sign in",
    request_body = Credentials,
    responses(
        (status = 200, description = "A user token", body = AccessToken),
        (status = 400, description = BAD_REQUEST, body = ErrorBody),
        (status = 404, description = "Wrong e-mail address or password", body = ErrorBody),
        (status = 429, description = "Too many sign-ins and registrations from this address; see `Retry-After`", body = ErrorBody),
        (status = 503, description = HASHING_BUSY, body = ErrorBody),
    )
)]
pub async fn login(state: AppState, body: Credentials) -> Result<impl Reply, ApiError> {
    let (email, password) = body.present()?;
    let wrong = || ApiError::NotFound("Invalid email or password".into());
    let email = Email::parse(&email).map_err(|_| wrong())?;
    let user = state.store.user_by_email(&email).await?.ok_or_else(wrong)?;
    let stored_hash = user.password_hash.clone();
    let check = state
        .hashing
        .run(move || check_password(&stored_hash, &password))
        .await?;
    match check {
        Check::Wrong => return Err(wrong()),
        Check::Right => {}
        Check::Upgrade(argon2) => upgrade_password(&state, &user, &argon2).await,
    }
    let access_token = state.tokens.issue_user(user.id, user.email.as_str());
    Ok(warp::reply::json(&AccessToken { access_token }))
}

/// Replaces an imported account's legacy hash by its Argon2id hash, unless the stored hash
/// changed meanwhile. A failure costs nothing but a later retry: the legacy hash still verifies.
async fn upgrade_password(state: &AppState, user: &User, argon2: &str) {
    match state
        .store
        .replace_password_hash(user.id, &user.password_hash, argon2)
        .await
    {
        Ok(replaced) => {
            tracing::info!(user = %user.id, replaced, "legacy password hash replaced by Argon2id")
        }
        Err(error) => {
            tracing::warn!(user = %user.id, %error, "legacy password hash not replaced; next sign-in retries")
        }
    }
}

/// The signed-in account.
#[utoipa::path(
    get, path = "/users/me", tag = "accounts", operation_id = "my_account", summary = "The signed-in account",
    security(("access_token" = []), ("bearer" = [])),
    responses((status = 200, description = "The account", body = replies::User))
)]
pub async fn me(user: User) -> Result<impl Reply, ApiError> {
    Ok(warp::reply::json(&replies::User::from(&user)))
}

/// POST /credits.
#[derive(Deserialize, ToSchema)]
pub struct CreditGrant {
    /// The user's identifier.
    #[serde(default)]
    #[schema(required = true, value_type = String)]
    id: Option<String>,
    /// Credits to add, a whole number greater than zero.
    // Read as any JSON value, so that every wrong one gets the message naming `credits`.
    #[serde(default)]
    #[schema(required = true, value_type = u64, minimum = 1)]
    credits: Option<Value>,
}

/// Adds credits to a user (superuser) → 200 with the user; 400 naming `credits` or `id` when
/// one is missing or invalid, 404 when `id` names no user.
#[utoipa::path(
    post, path = "/credits", tag = "accounts", operation_id = "grant_credits", summary = "Add credits to an account (superuser)",
    security(("access_token" = []), ("bearer" = [])),
    request_body = CreditGrant,
    responses(
        (status = 200, description = "The account, credits added", body = replies::User),
        (status = 400, description = BAD_REQUEST, body = ErrorBody),
        (status = 403, description = "Not a superuser", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
#[tracing::instrument(name = "grant", skip_all, fields(user = %superuser.id))]
pub async fn grant(
    state: AppState,
    superuser: User,
    body: CreditGrant,
) -> Result<impl Reply, ApiError> {
    let amount = body
        .credits
        .as_ref()
        .and_then(Value::as_u64)
        .filter(|&n| n > 0)
        .and_then(|n| Credits::new(n).ok())
        .ok_or_else(|| {
            ApiError::BadRequest("credits: must be a whole number greater than zero".into())
        })?;
    // As the original: no id is a bad request, an id naming nobody (malformed or unknown) is
    // a user that doesn't exist.
    let raw_id = body
        .id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::BadRequest("id: is required, the user's _id".into()))?;
    let missing = || ApiError::NotFound("User doesn't exist".into());
    let id: UserId = raw_id.parse().map_err(|_| missing())?;
    let user = state
        .store
        .add_credits(id, amount)
        .await?
        .ok_or_else(missing)?;
    tracing::info!(to = %user.id, %amount, "credits granted");
    Ok(warp::reply::json(&replies::User::from(&user)))
}
