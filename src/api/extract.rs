//! Request extraction shared by the handlers: state, JSON bodies, query strings,
//! authentication.

use super::error::ApiError;
use crate::state::AppState;
use crate::store::User;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
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

/// A JSON body checked by `T`'s own conversion, for a body whose every mistake, its shape
/// included, gets a message naming the field (serde's would name a type instead).
pub fn checked_body<T>() -> impl Filter<Extract = (T,), Error = Rejection> + Clone
where
    T: TryFrom<Value, Error = ApiError> + Send,
{
    json_body::<Value>()
        .and_then(|body: Value| async move { T::try_from(body).map_err(Rejection::from) })
}

/// The query string as `T` (no query string reads as an empty one); a value `T` refuses is a
/// 400 whose message is the field's own (field types write it, naming the field). A repeated
/// key counts once, with its last value.
pub fn query<T: DeserializeOwned + Send + 'static>(
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .and_then(|raw: String| async move { parse_query(&raw).map_err(Rejection::from) })
}

fn parse_query<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    // Reading through a map first keeps the last of repeated keys, where a struct would refuse
    // a duplicate field; reading pairs never fails (bad escapes decode lossily).
    let last: HashMap<String, String> = serde_urlencoded::from_str(raw).unwrap_or_default();
    let canonical = serde_urlencoded::to_string(&last).unwrap_or_default();
    serde_urlencoded::from_str(&canonical).map_err(|e| ApiError::BadRequest(e.to_string()))
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
