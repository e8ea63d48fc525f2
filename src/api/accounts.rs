//! /register, /login, /users/me, /credits.

use super::error::ApiError;
use super::views;
use crate::accounts::{self, verify_password, RegisterError};
use crate::domain::{Credits, Email, UserId};
use crate::state::AppState;
use crate::store::User;
use serde::Deserialize;
use serde_json::Value;
use warp::http::StatusCode;
use warp::{Rejection, Reply};

/// Body of /register and /login.
#[derive(Deserialize)]
pub struct Credentials {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl Credentials {
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

/// POST /register → 201 with the new user.
pub async fn register(state: AppState, body: Credentials) -> Result<impl Reply, Rejection> {
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
        warp::reply::json(&views::user(&user)),
        StatusCode::CREATED,
    ))
}

/// POST /login → 200 {access_token}; wrong credentials → 404, as the original.
pub async fn login(state: AppState, body: Credentials) -> Result<impl Reply, Rejection> {
    let (email, password) = body.present()?;
    let wrong = || Rejection::from(ApiError::NotFound("Invalid email or password".into()));
    let email = Email::parse(&email).map_err(|_| wrong())?;
    let user = state
        .store
        .user_by_email(&email)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(wrong)?;
    let stored_hash = user.password_hash.clone();
    let verified = state
        .hashing
        .run(move || verify_password(&stored_hash, &password))
        .await
        .map_err(ApiError::from)?;
    if !verified {
        return Err(wrong());
    }
    let token = state.tokens.issue_user(user.id, user.email.as_str());
    Ok(warp::reply::json(
        &serde_json::json!({ "access_token": token }),
    ))
}

/// GET /users/me.
pub async fn me(user: User) -> Result<impl Reply, Rejection> {
    Ok(warp::reply::json(&views::user(&user)))
}

/// Body of POST /credits.
#[derive(Deserialize)]
pub struct Grant {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    credits: Option<Value>,
}

/// POST /credits (superuser): adds credits to a user → 200 with the user; 400 naming `credits`
/// or `id` when one is missing or invalid, 404 when `id` names no user.
pub async fn grant(
    state: AppState,
    _superuser: User,
    body: Grant,
) -> Result<impl Reply, Rejection> {
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
    let missing = || Rejection::from(ApiError::NotFound("User doesn't exist".into()));
    let id: UserId = raw_id.parse().map_err(|_| missing())?;
    let user = state
        .store
        .add_credits(id, amount)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(missing)?;
    tracing::info!(user = %user.id, %amount, "credits granted");
    Ok(warp::reply::json(&views::user(&user)))
}
