//! Human tasks (IBM's follow-on tasks) and the inbox: reading a user task's human tasks,
//! operating on one, and the acting user's inbox page.

use axum::extract::State;

use baton_api_model as api;
use baton_service::HumanTaskRef;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Acting, Json, Path, Query};
use crate::requests::{HumanTaskNumber, HumanTaskOperation, InboxParams, DEFAULT_PER_PAGE};
use crate::state::AppState;

/// The acting user's inbox: the tasks they claimed, then those they may claim.
#[utoipa::path(get, path = "/api/inbox", tag = "human tasks", params(InboxParams),
    responses((status = 200, body = api::InboxPage), (status = 422, body = ErrorBody)))]
pub async fn inbox(
    State(state): State<AppState>,
    Acting(user): Acting,
    Query(q): Query<InboxParams>,
) -> ApiResult<Json<api::InboxPage>> {
    let query = api::InboxQuery {
        status: q.status,
        process: q.process,
        due_before: q.due_before,
        min_priority: q.min_priority,
        page: q.page.unwrap_or(1),
        per_page: q.per_page.unwrap_or(DEFAULT_PER_PAGE),
    };
    Ok(Json(state.service.inbox(&user, &query).await?))
}

/// The human tasks of a `user` task (or only number `number`), with how its chain ended.
#[utoipa::path(get, path = "/api/instances/{id}/tasks/{task}/human-tasks", tag = "human tasks",
    params(("id" = String, Path), ("task" = String, Path), HumanTaskNumber),
    responses((status = 200, body = api::UserTask), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path((id, task)): Path<(String, String)>,
    Query(q): Query<HumanTaskNumber>,
) -> ApiResult<Json<api::UserTask>> {
    Ok(Json(
        state.service.user_task(&user, &id, &task, q.number).await?,
    ))
}

/// Operate on a human task: `claim`, `unclaim`, `complete`, `fail`, `forward`, `subtask`,
/// `suspend`, `resume`, `terminate`, `escalate`, `delete` or `restart`, named by the body's
/// `operation`. IBM's human-task rules decide who may (403 otherwise).
#[utoipa::path(post, path = "/api/instances/{id}/tasks/{task}/human-tasks", tag = "human tasks",
    params(("id" = String, Path), ("task" = String, Path), HumanTaskNumber), request_body = HumanTaskOperation,
    responses((status = 200, body = api::HumanTaskUpdate), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn operate(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path((instance, task)): Path<(String, String)>,
    Query(q): Query<HumanTaskNumber>,
    Json(body): Json<HumanTaskOperation>,
) -> ApiResult<Json<api::HumanTaskUpdate>> {
    let target = HumanTaskRef {
        instance,
        task,
        number: q.number,
    };
    Ok(Json(
        state
            .service
            .human_task(&user, &target, body.try_into()?)
            .await?,
    ))
}
