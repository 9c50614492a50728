//! `/healthz` and `/readyz`: for load balancers and supervisors; they need no token.

use axum::extract::State;
use axum::http::StatusCode;

use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", security(), responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The store answers (503 if it does not).
#[utoipa::path(get, path = "/readyz", tag = "health", security(), responses((status = 200, body = String), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<(StatusCode, &'static str)> {
    state.service.ready().await?;
    Ok((StatusCode::OK, "ready"))
}
