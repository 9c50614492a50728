//! `/api/sessions`: Siebel's user sessions and the interactive workflows their users drive:
//! login and logout, the session's cache, starting, resuming (from the cache or the inbox),
//! submitting a view and suspending. A session is its user's own: another user's is refused
//! with 403.

use axum::extract::State;

use baton_api_model as api;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Acting, Json, OptionalJson, Path};
use crate::requests::{SessionStart, Submission};
use crate::state::AppState;

/// Log in: a new session of the acting user, with an empty cache. It is logged out by
/// `DELETE`, or when idle past its timeout (`idle_timeout_ms`), or when the server stops.
#[utoipa::path(post, path = "/api/sessions", tag = "sessions",
    responses((status = 200, body = api::Session), (status = 409, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    Acting(user): Acting,
) -> ApiResult<Json<api::Session>> {
    Ok(Json(state.service.login(&user).await?))
}

/// A session, with the workflows in its cache (the most recently used first).
#[utoipa::path(get, path = "/api/sessions/{session}", tag = "sessions", params(("session" = String, Path)),
    responses((status = 200, body = api::Session), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(session): Path<String>,
) -> ApiResult<Json<api::Session>> {
    Ok(Json(state.service.session(&user, &session).await?))
}

/// Log out: each workflow in the session's cache goes to its owner's inbox (Auto Persist:
/// implicit suspension) or is deleted; the answer says which.
#[utoipa::path(delete, path = "/api/sessions/{session}", tag = "sessions", params(("session" = String, Path)),
    responses((status = 200, body = api::Logout), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(session): Path<String>,
) -> ApiResult<Json<api::Logout>> {
    Ok(Json(state.service.logout(&user, &session).await?))
}

/// The workflows in the session's cache, the most recently used first.
#[utoipa::path(get, path = "/api/sessions/{session}/workflows", tag = "sessions", params(("session" = String, Path)),
    responses((status = 200, body = Vec<api::SessionWorkflow>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn workflows(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(session): Path<String>,
) -> ApiResult<Json<Vec<api::SessionWorkflow>>> {
    Ok(Json(
        state.service.session_workflows(&user, &session).await?,
    ))
}

/// Start an interactive workflow in the session: it runs to its first view (or wait) and
/// enters the cache; when the cache is full the least recently used leaves it (`left`).
#[utoipa::path(post, path = "/api/sessions/{session}/workflows", tag = "sessions", params(("session" = String, Path)), request_body = SessionStart,
    responses((status = 200, body = api::SessionStep), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(session): Path<String>,
    Json(body): Json<SessionStart>,
) -> ApiResult<Json<api::SessionStep>> {
    Ok(Json(
        state
            .service
            .session_start(&user, &session, &body.process, body.data)
            .await?,
    ))
}

/// Go back to a workflow: from the session's cache, or from the acting user's inbox by its
/// instance id (explicit resumption), at the step where they left off.
#[utoipa::path(post, path = "/api/sessions/{session}/workflows/{instance}/resume", tag = "sessions", params(("session" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = api::SessionStep), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resume(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path((session, instance)): Path<(String, String)>,
) -> ApiResult<Json<api::SessionStep>> {
    Ok(Json(
        state
            .service
            .session_resume(&user, &session, &instance)
            .await?,
    ))
}

/// Submit the view a cached workflow shows, with data that fits its form (else 422, naming
/// every problem, and nothing changes). The step is committed before the answer.
#[utoipa::path(post, path = "/api/sessions/{session}/workflows/{instance}/submit", tag = "sessions", params(("session" = String, Path), ("instance" = String, Path)), request_body = Option<Submission>,
    responses((status = 200, body = api::SessionStep), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path((session, instance)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<Submission>,
) -> ApiResult<Json<api::SessionStep>> {
    let body = body.unwrap_or(Submission {
        task: None,
        data: api::Data::new(),
    });
    Ok(Json(
        state
            .service
            .session_submit(&user, &session, &instance, body.task.as_deref(), body.data)
            .await?,
    ))
}

/// Suspend a cached workflow (the Suspend button): it leaves the cache for the acting user's
/// inbox (explicit suspension).
#[utoipa::path(post, path = "/api/sessions/{session}/workflows/{instance}/suspend", tag = "sessions", params(("session" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = api::SuspendedWorkflow), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn suspend(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path((session, instance)): Path<(String, String)>,
) -> ApiResult<Json<api::SuspendedWorkflow>> {
    Ok(Json(
        state
            .service
            .session_suspend(&user, &session, &instance)
            .await?,
    ))
}
