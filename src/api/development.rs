//! DELETE /delete_all: the original's way to start over while developing.

use super::error::ApiError;
use super::replies::ErrorBody;
use crate::config::Mode;
use crate::state::AppState;
use warp::http::StatusCode;
use warp::Reply;

/// Wipes the store in development mode → 204; 404 in production, as if it did not exist.
#[utoipa::path(
    delete, path = "/delete_all", tag = "development",
    summary = "Delete every record (development mode only)",
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "Production mode", body = ErrorBody),
    )
)]
pub async fn delete_all(state: AppState) -> Result<impl Reply, ApiError> {
    if state.settings.mode == Mode::Production {
        return Err(ApiError::NotFound("Not found".into()));
    }
    state.store.delete_all().await?;
    tracing::warn!("store wiped through /delete_all");
    Ok(StatusCode::NO_CONTENT)
}
