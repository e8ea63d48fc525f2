//! The one API error type and its mapping to HTTP: every failure leaves here as
//! `{"Error": "message"}` with a precise status, the shape the original backend used.

use super::replies::ErrorBody;
use crate::accounts::{HashingBusy, HASHING_RETRY_AFTER_S};
use crate::operations::CreateError;
use crate::store::StoreError;
use std::convert::Infallible;
use warp::http::StatusCode;
use warp::reject::Reject;
use warp::{Rejection, Reply};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or breaks a rule; the message names the field.
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing or invalid credentials (the frontend logs the user out on 401).
    #[error("No authorization to access this content")]
    Unauthorized,
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: the thing does not exist (the original also answers 404 to wrong credentials).
    #[error("{0}")]
    NotFound(String),
    /// 429: this client sent too many requests of this kind; retry after `retry_after_s`.
    #[error("too many requests: retry in {retry_after_s} s")]
    TooManyRequests {
        /// Seconds until a retry can succeed (sent as `Retry-After`).
        retry_after_s: u64,
    },
    /// 503: the server is at a capacity bound (e.g. password hashing); retry after
    /// `retry_after_s`.
    #[error("service busy: {message}")]
    Busy {
        /// What is at capacity.
        message: String,
        /// Seconds until a retry can succeed (sent as `Retry-After`).
        retry_after_s: u64,
    },
    /// 503: the store cannot be reached; retry later.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug or corrupt data; details only in the log.
    #[error("internal error")]
    Internal,
}

impl Reject for ApiError {}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => ApiError::Unavailable(cause),
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} doesn't exist")),
            StoreError::NotEnoughCredits => ApiError::BadRequest("Not enough credits".into()),
            StoreError::CreditOverflow => {
                ApiError::BadRequest("credits: the balance would overflow".into())
            }
            StoreError::Duplicate(what) => ApiError::BadRequest(format!("{what} already exists")),
            StoreError::TooManyProbes(max) => ApiError::Forbidden(format!(
                "probes: at most {max} probes per user (PLADMED_MAX_PROBES_PER_USER); \
                 this account has reached it"
            )),
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::Internal
            }
        }
    }
}

impl From<HashingBusy> for ApiError {
    fn from(busy: HashingBusy) -> Self {
        ApiError::Busy {
            message: busy.to_string(),
            retry_after_s: HASHING_RETRY_AFTER_S,
        }
    }
}

impl From<CreateError> for ApiError {
    fn from(error: CreateError) -> Self {
        match error {
            CreateError::Invalid(message) => ApiError::BadRequest(message),
            CreateError::NotEnoughCredits => ApiError::BadRequest(error.to_string()),
            CreateError::UnknownProbe(_)
            | CreateError::MalformedProbe(_)
            | CreateError::NoAvailableProbes => ApiError::NotFound(error.to_string()),
            CreateError::Store(e) => e.into(),
        }
    }
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy { .. } | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The JSON error reply.
pub fn error_reply(status: StatusCode, message: &str) -> warp::reply::Response {
    warp::reply::with_status(warp::reply::json(&ErrorBody { error: message }), status)
        .into_response()
}

impl ApiError {
    /// The error as a reply: its status, `{"Error": message}`, and `Retry-After` when a retry
    /// can succeed later.
    fn reply(&self) -> warp::reply::Response {
        let mut reply = error_reply(self.status(), &self.to_string());
        if let ApiError::TooManyRequests { retry_after_s } | ApiError::Busy { retry_after_s, .. } =
            self
        {
            reply
                .headers_mut()
                .insert(warp::http::header::RETRY_AFTER, (*retry_after_s).into());
        }
        reply
    }
}

impl Reply for ApiError {
    fn into_response(self) -> warp::reply::Response {
        self.reply()
    }
}

/// The one adapter between handlers and warp: a handler returns `Result<_, ApiError>`, and its
/// error leaves as the same reply a rejected filter gets from [`recover`].
pub fn respond<T: Reply>(outcome: Result<T, ApiError>) -> warp::reply::Response {
    match outcome {
        Ok(reply) => reply.into_response(),
        Err(error) => error.into_response(),
    }
}

/// Turns every rejection, ours or warp's, into a JSON error reply.
pub async fn recover(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    if let Some(error) = rejection.find::<ApiError>() {
        return Ok(error.reply());
    }
    let (status, message) = if rejection.is_not_found() {
        (StatusCode::NOT_FOUND, "Not found".to_string())
    } else if let Some(e) = rejection.find::<warp::reject::PayloadTooLarge>() {
        (StatusCode::PAYLOAD_TOO_LARGE, format!("body: {e}"))
    } else if let Some(e) = rejection.find::<warp::reject::LengthRequired>() {
        (StatusCode::LENGTH_REQUIRED, e.to_string())
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        (StatusCode::BAD_REQUEST, format!("query: {e}"))
    } else if let Some(e) = rejection.find::<warp::reject::InvalidHeader>() {
        (StatusCode::BAD_REQUEST, e.to_string())
    } else if let Some(e) = rejection.find::<warp::reject::MissingHeader>() {
        (StatusCode::BAD_REQUEST, e.to_string())
    } else if let Some(e) = rejection.find::<warp::reject::MethodNotAllowed>() {
        (StatusCode::METHOD_NOT_ALLOWED, e.to_string())
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        (StatusCode::BAD_REQUEST, format!("{rejection:?}"))
    };
    Ok(error_reply(status, &message))
}
