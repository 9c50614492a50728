//! `/api/schedules`: processes started on a schedule. Everyone may list and read them; making
//! and changing one takes someone who may start its process (its `startable_by`, or an
//! administrator).

use axum::extract::State;
use axum::http::StatusCode;

use baton_api_model as api;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Acting, Json, Path};
use crate::state::AppState;

/// Make a schedule for a process; its first slot is the first after now.
#[utoipa::path(post, path = "/api/schedules", tag = "schedules", request_body = api::CreateSchedule,
    responses((status = 201, body = api::Schedule), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Acting(user): Acting,
    Json(body): Json<api::CreateSchedule>,
) -> ApiResult<(StatusCode, Json<api::Schedule>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.service.create_schedule(&user, &body).await?),
    ))
}

/// Every schedule, by id, with its next slots.
#[utoipa::path(get, path = "/api/schedules", tag = "schedules", responses((status = 200, body = Vec<api::Schedule>)))]
pub async fn list(
    State(state): State<AppState>,
    Acting(user): Acting,
) -> ApiResult<Json<Vec<api::Schedule>>> {
    Ok(Json(state.service.schedules(&user).await?))
}

/// One schedule, with its next slots and the slots it took last.
#[utoipa::path(get, path = "/api/schedules/{id}", tag = "schedules", params(("id" = String, Path)),
    responses((status = 200, body = api::Schedule), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Schedule>> {
    Ok(Json(state.service.schedule(&user, &id).await?))
}

/// Delete a schedule (a definition's comes back when the definition is deployed with it again).
#[utoipa::path(delete, path = "/api/schedules/{id}", tag = "schedules", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.service.delete_schedule(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pause a schedule: none of its slots starts until it is resumed.
#[utoipa::path(post, path = "/api/schedules/{id}/pause", tag = "schedules", params(("id" = String, Path)),
    responses((status = 200, body = api::Schedule), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn pause(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Schedule>> {
    Ok(Json(state.service.pause_schedule(&user, &id).await?))
}

/// Resume a schedule at its first slot after now (the slots it was paused for are not run).
#[utoipa::path(post, path = "/api/schedules/{id}/resume", tag = "schedules", params(("id" = String, Path)),
    responses((status = 200, body = api::Schedule), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn resume(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Schedule>> {
    Ok(Json(state.service.resume_schedule(&user, &id).await?))
}

/// Start the schedule's process now, with its data; answers with the instance.
#[utoipa::path(post, path = "/api/schedules/{id}/trigger", tag = "schedules", params(("id" = String, Path)),
    responses((status = 201, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn trigger(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<api::Instance>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.service.trigger_schedule(&user, &id).await?),
    ))
}
