//! `/api/instances`: starting, listing and reading instances, and an operator's commands on
//! them and their tasks.

use axum::extract::State;

use baton_api_model as api;
use baton_service::TaskOperation;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Acting, Json, OptionalJson, Path, Query};
use crate::requests::{
    Abort, AbortAndStart, Back, HistoryQuery, Input, InstancesQuery, Spawn, Start,
    DEFAULT_HISTORY_PAGE,
};
use crate::state::AppState;

/// Start an instance of the latest version of a process; answered once its first step is
/// committed (jobs are queued for the worker).
#[utoipa::path(post, path = "/api/instances", tag = "instances", request_body = Start,
    responses((status = 200, body = api::Instance, headers(("idempotent-replayed" = String, description = "`true` when the idempotency key started this instance before"))),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    Acting(user): Acting,
    Json(body): Json<Start>,
) -> ApiResult<impl axum::response::IntoResponse> {
    let (instance, started) = state
        .service
        .start_once(
            &user,
            &body.process,
            body.data,
            body.idempotency_key.as_deref(),
        )
        .await?;
    // A repeat of an idempotent start says so in a header (Stripe's `Idempotent-Replayed`).
    let replayed = [(IDEMPOTENT_REPLAYED, if started { "false" } else { "true" })];
    Ok((replayed, Json(instance)))
}

/// The header an answer to a start carries: `true` when its idempotency key started an
/// instance before, and this answer is that instance.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// Instances, newest first, a page at a time (pass `next_cursor` back as `cursor`).
#[utoipa::path(get, path = "/api/instances", tag = "instances", params(InstancesQuery),
    responses((status = 200, body = api::InstancePage), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Acting(user): Acting,
    Query(q): Query<InstancesQuery>,
) -> ApiResult<Json<api::InstancePage>> {
    Ok(Json(
        state
            .service
            .list_instances(&user, &q.into_filter())
            .await?,
    ))
}

/// An instance's current state.
#[utoipa::path(get, path = "/api/instances/{id}", tag = "instances", params(("id" = String, Path)),
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Instance>> {
    Ok(Json(state.service.instance(&user, &id).await?))
}

/// Delete an instance (aborted first if open) and its human tasks; its history stays, and
/// reading it still answers. Deleting it again is refused with 409.
#[utoipa::path(delete, path = "/api/instances/{id}", tag = "instances", params(("id" = String, Path)),
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Instance>> {
    Ok(Json(state.service.delete(&user, &id).await?))
}

/// A page of an instance's history, oldest first: the events after `after`.
#[utoipa::path(get, path = "/api/instances/{id}/history", tag = "instances", params(("id" = String, Path), HistoryQuery),
    responses((status = 200, body = Vec<api::HistoryEvent>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<Vec<api::HistoryEvent>>> {
    Ok(Json(
        state
            .service
            .history_page(
                &user,
                &id,
                q.after.unwrap_or(0),
                q.limit.unwrap_or(DEFAULT_HISTORY_PAGE),
            )
            .await?,
    ))
}

/// The child instances of an instance (its ForEach iterations, `call`ed and handed-off
/// instances), oldest first.
#[utoipa::path(get, path = "/api/instances/{id}/children", tag = "instances", params(("id" = String, Path)),
    responses((status = 200, body = Vec<api::InstanceSummary>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn children(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<api::InstanceSummary>>> {
    Ok(Json(state.service.children(&user, &id).await?))
}

/// Abort an instance: open tasks are canceled, running jobs stopped, sub-processes that have
/// not ended aborted. The body is optional; `{"abort_parent": true}` aborts the instances
/// above a `call`ed sub-process too (Stardust: the user decides).
#[utoipa::path(post, path = "/api/instances/{id}/abort", tag = "instances", params(("id" = String, Path)), request_body = Option<Abort>,
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn abort(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<Abort>,
) -> ApiResult<Json<api::Instance>> {
    let abort_parent = body.unwrap_or_default().abort_parent;
    Ok(Json(state.service.abort(&user, &id, abort_parent).await?))
}

/// Spawn a sub-process under a running instance (Stardust): it is a sub-process of the
/// instance's root, in its case, and starts with the instance's data (by value) under `data`.
/// 403 when the process is not startable or the user may not start it; 409 when the
/// instance has ended. Answers with the spawned instance.
#[utoipa::path(post, path = "/api/instances/{id}/spawn", tag = "instances", params(("id" = String, Path)), request_body = Spawn,
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn spawn(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
    Json(body): Json<Spawn>,
) -> ApiResult<Json<api::Instance>> {
    Ok(Json(
        state
            .service
            .spawn(&user, &id, &body.process, body.version, body.data)
            .await?,
    ))
}

/// Abort an instance started in the wrong process and start a peer instance of the right one
/// with its data, in one commit (Stardust's abort-and-start). Answers with the peer.
#[utoipa::path(post, path = "/api/instances/{id}/abort-and-start", tag = "instances", params(("id" = String, Path)), request_body = AbortAndStart,
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn abort_and_start(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
    Json(body): Json<AbortAndStart>,
) -> ApiResult<Json<api::Instance>> {
    Ok(Json(
        state
            .service
            .abort_and_start(&user, &id, &body.process, body.version)
            .await?,
    ))
}

/// Recover an instance that failed (or is blocked by a failure): every task of it that ended
/// not OK runs again; a `call` task recovers its failed sub-process instead of starting
/// another. 409 when the instance is in no state to recover or nothing of it ended not OK.
#[utoipa::path(post, path = "/api/instances/{id}/recover", tag = "instances", params(("id" = String, Path)),
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn recover(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Instance>> {
    Ok(Json(state.service.recover(&user, &id).await?))
}

async fn operate(
    state: &AppState,
    user: &str,
    id: &str,
    operation: TaskOperation,
) -> ApiResult<Json<api::Instance>> {
    Ok(Json(
        state.service.task_operation(user, id, operation).await?,
    ))
}

/// Run a task that ended not OK (or was skipped) again.
#[utoipa::path(post, path = "/api/instances/{id}/tasks/{task}/retry", tag = "instances", params(("id" = String, Path), ("task" = String, Path)),
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path((id, task)): Path<(String, String)>,
) -> ApiResult<Json<api::Instance>> {
    operate(&state, &user, &id, TaskOperation::Retry { task }).await
}

/// Send a task back to an earlier task (one it follows through `after` or branches), which
/// runs again with the tasks after it; what they had under way is stopped. Administrators may,
/// and for a user task its potential owners and administrators (403 for anyone else). 422 when
/// `to` does not come before the task; 409 when the instance has ended or the flow has not
/// reached the task.
#[utoipa::path(post, path = "/api/instances/{id}/tasks/{task}/back", tag = "instances", params(("id" = String, Path), ("task" = String, Path)), request_body = Back,
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn back(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path((id, task)): Path<(String, String)>,
    Json(body): Json<Back>,
) -> ApiResult<Json<api::Instance>> {
    operate(
        &state,
        &user,
        &id,
        TaskOperation::Back { task, to: body.to },
    )
    .await
}

/// End a blocked or waiting task `ended_skipped`.
#[utoipa::path(post, path = "/api/instances/{id}/tasks/{task}/skip", tag = "instances", params(("id" = String, Path), ("task" = String, Path)),
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn skip(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path((id, task)): Path<(String, String)>,
) -> ApiResult<Json<api::Instance>> {
    operate(&state, &user, &id, TaskOperation::Skip { task }).await
}

/// Set a breakpoint on a task (Automic: the workflow stops there, `blocked`).
#[utoipa::path(post, path = "/api/instances/{id}/tasks/{task}/breakpoint", tag = "instances", params(("id" = String, Path), ("task" = String, Path)),
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn set_breakpoint(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path((id, task)): Path<(String, String)>,
) -> ApiResult<Json<api::Instance>> {
    operate(
        &state,
        &user,
        &id,
        TaskOperation::Breakpoint {
            task,
            enabled: true,
        },
    )
    .await
}

/// Clear a task's breakpoint; a task blocked at it goes on.
#[utoipa::path(delete, path = "/api/instances/{id}/tasks/{task}/breakpoint", tag = "instances", params(("id" = String, Path), ("task" = String, Path)),
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn clear_breakpoint(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path((id, task)): Path<(String, String)>,
) -> ApiResult<Json<api::Instance>> {
    operate(
        &state,
        &user,
        &id,
        TaskOperation::Breakpoint {
            task,
            enabled: false,
        },
    )
    .await
}

/// Give the values a task's prompts ask for (Automic's PromptSets).
#[utoipa::path(post, path = "/api/instances/{id}/tasks/{task}/input", tag = "instances", params(("id" = String, Path), ("task" = String, Path)), request_body = Input,
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn input(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path((id, task)): Path<(String, String)>,
    Json(body): Json<Input>,
) -> ApiResult<Json<api::Instance>> {
    operate(
        &state,
        &user,
        &id,
        TaskOperation::Input {
            task,
            values: body.values,
        },
    )
    .await
}
