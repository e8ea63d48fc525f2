//! Request extraction shared by the handlers: state, JSON bodies, authentication.

use super::error::ApiError;
use crate::state::AppState;
use crate::store::User;
use serde::de::DeserializeOwned;
use warp::{Filter, Rejection};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: u64 = 1 << 20;

/// Hands the shared state to a handler.
pub fn with_state(
    state: AppState,
) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// A JSON body of type `T`, whatever the Content-Type says (the original accepted any), with
/// a 400 naming what is wrong.
pub fn json_body<T: DeserializeOwned + Send>(
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::body::content_length_limit(MAX_BODY_BYTES)
        .and(warp::body::bytes())
        .and_then(|bytes: bytes::Bytes| async move {
            serde_json::from_slice::<T>(&bytes).map_err(|e| {
                Rejection::from(ApiError::BadRequest(format!("invalid JSON body: {e}")))
            })
        })
}

/// The signed-in user: a valid, unexpired user token in the `access_token` header (as the
/// original frontend sends it) or as `Authorization: Bearer`, naming an existing account.
pub fn authenticated(state: AppState) -> impl Filter<Extract = (User,), Error = Rejection> + Clone {
    warp::header::optional::<String>("access_token")
        .and(warp::header::optional::<String>("authorization"))
        .and(with_state(state))
        .and_then(|access_token: Option<String>, authorization: Option<String>, state: AppState| async move {
            let token = access_token
                .or_else(|| authorization.and_then(|v| v.strip_prefix("Bearer ").map(str::to_string)))
                .ok_or(ApiError::Unauthorized)?;
            let id = state.tokens.verify_user(&token).map_err(|_| ApiError::Unauthorized)?;
            let user = state.store.user(id).await.map_err(ApiError::from)?;
            user.ok_or_else(|| Rejection::from(ApiError::Unauthorized))
        })
}

/// The signed-in user, who must be a superuser (403 otherwise).
pub fn superuser(state: AppState) -> impl Filter<Extract = (User,), Error = Rejection> + Clone {
    authenticated(state).and_then(|user: User| async move {
        if user.is_superuser {
            Ok(user)
        } else {
            Err(Rejection::from(ApiError::Forbidden(
                "only a superuser may do this".into(),
            )))
        }
    })
}
