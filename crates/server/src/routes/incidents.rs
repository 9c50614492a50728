//! `/api/incidents`: steps that kept failing and were set aside (Camunda's incidents).

use axum::extract::State;

use baton_api_model as api;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Acting, Json, Path, Query};
use crate::requests::{LimitQuery, DEFAULT_LIMIT};
use crate::state::AppState;

/// Open incidents, oldest first.
#[utoipa::path(get, path = "/api/incidents", tag = "incidents", params(LimitQuery),
    responses((status = 200, body = Vec<api::Incident>), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Acting(user): Acting,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<Vec<api::Incident>>> {
    Ok(Json(
        state
            .service
            .open_incidents(&user, q.limit.unwrap_or(DEFAULT_LIMIT))
            .await?,
    ))
}

/// Every incident of an instance, open or closed, oldest first.
#[utoipa::path(get, path = "/api/instances/{id}/incidents", tag = "incidents", params(("id" = String, Path)),
    responses((status = 200, body = Vec<api::Incident>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn of_instance(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<api::Incident>>> {
    Ok(Json(state.service.incidents(&user, &id).await?))
}

/// Apply an open incident's step again; applied, the incident is closed.
#[utoipa::path(post, path = "/api/incidents/{id}/retry", tag = "incidents", params(("id" = i64, Path)),
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<i64>,
) -> ApiResult<Json<api::Instance>> {
    Ok(Json(state.service.retry_incident(&user, id).await?))
}

/// Close an open incident without applying its step.
#[utoipa::path(post, path = "/api/incidents/{id}/resolve", tag = "incidents", params(("id" = i64, Path)),
    responses((status = 200, body = api::Incident), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resolve(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<i64>,
) -> ApiResult<Json<api::Incident>> {
    Ok(Json(state.service.resolve_incident(&user, id).await?))
}
