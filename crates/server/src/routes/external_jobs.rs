//! `/api/external-jobs`: jobs done by workers outside Baton, in any language (Camunda's
//! external tasks, Zeebe's job workers). A worker fetches and locks jobs of its topics, then
//! completes, fails or ends each, or extends its lock, naming the attempt it was given. A
//! report from a worker that no longer holds the lock (it expired and the job was offered
//! again, the job was canceled, the attempt is over) is refused with 409 and changes nothing.

use std::time::Duration;

use axum::extract::State;

use baton_api_model as api;
use baton_core::WorkerReport;
use baton_service::FetchJobs;
use baton_store::JobKey;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Acting, Json, Path};
use baton_api_model::requests::{CompleteJob, EndJob, ExtendLock, FailJob, FetchAndLock};

use crate::requests::end_status;
use crate::state::AppState;

/// Lock up to `max_jobs` queued jobs of the topics to the worker. With none queued, it waits up
/// to `timeout_ms` and answers as soon as one is queued, or with an empty list at the timeout.
#[utoipa::path(post, path = "/api/external-jobs/fetch-and-lock", tag = "external jobs", request_body = FetchAndLock,
    responses((status = 200, body = Vec<api::ExternalJob>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn fetch_and_lock(
    State(state): State<AppState>,
    Acting(user): Acting,
    Json(body): Json<FetchAndLock>,
) -> ApiResult<Json<Vec<api::ExternalJob>>> {
    let fetch = FetchJobs {
        worker: body.worker_id,
        topics: body.topics,
        max_jobs: body.max_jobs,
        lock: Duration::from_millis(body.lock_duration_ms),
        wait: Duration::from_millis(body.timeout_ms),
    };
    Ok(Json(state.service.fetch_and_lock(&user, fetch).await?))
}

/// The path naming one job attempt.
type AttemptPath = Path<(String, String, u32)>;

fn key((instance, task, attempt): (String, String, u32)) -> JobKey {
    JobKey {
        instance,
        task,
        attempt,
    }
}

/// The job is done: its output goes into process data and the task ends `ended_ok`.
#[utoipa::path(post, path = "/api/external-jobs/{instance}/{task}/{attempt}/complete", tag = "external jobs",
    params(("instance" = String, Path), ("task" = String, Path), ("attempt" = u32, Path)), request_body = CompleteJob,
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn complete(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(attempt): AttemptPath,
    Json(body): Json<CompleteJob>,
) -> ApiResult<Json<api::Instance>> {
    let report = WorkerReport::Completed { output: body.data };
    Ok(Json(
        state
            .service
            .report_external_job(&user, &key(attempt), &body.worker_id, report)
            .await?,
    ))
}

/// The job failed: it runs again if asked and the task's `retry:` policy has a retry left,
/// else the task ends `ended_not_ok`.
#[utoipa::path(post, path = "/api/external-jobs/{instance}/{task}/{attempt}/fail", tag = "external jobs",
    params(("instance" = String, Path), ("task" = String, Path), ("attempt" = u32, Path)), request_body = FailJob,
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn fail(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(attempt): AttemptPath,
    Json(body): Json<FailJob>,
) -> ApiResult<Json<api::Instance>> {
    let report = WorkerReport::Failed {
        message: body.message,
        retry: body.retry,
        retry_after_ms: body.retry_after_ms,
    };
    Ok(Json(
        state
            .service
            .report_external_job(&user, &key(attempt), &body.worker_id, report)
            .await?,
    ))
}

/// End the job's task with a status the worker chooses (a business error: `ended_not_ok`,
/// never retried).
#[utoipa::path(post, path = "/api/external-jobs/{instance}/{task}/{attempt}/end", tag = "external jobs",
    params(("instance" = String, Path), ("task" = String, Path), ("attempt" = u32, Path)), request_body = EndJob,
    responses((status = 200, body = api::Instance), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn end(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(attempt): AttemptPath,
    Json(body): Json<EndJob>,
) -> ApiResult<Json<api::Instance>> {
    let report = WorkerReport::Ended {
        status: end_status(body.status),
        message: body.message,
        output: body.data,
    };
    Ok(Json(
        state
            .service
            .report_external_job(&user, &key(attempt), &body.worker_id, report)
            .await?,
    ))
}

/// Extend the worker's lock on the job to `duration_ms` from now.
#[utoipa::path(post, path = "/api/external-jobs/{instance}/{task}/{attempt}/extend-lock", tag = "external jobs",
    params(("instance" = String, Path), ("task" = String, Path), ("attempt" = u32, Path)), request_body = ExtendLock,
    responses((status = 200, body = api::JobLock), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn extend_lock(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(attempt): AttemptPath,
    Json(body): Json<ExtendLock>,
) -> ApiResult<Json<api::JobLock>> {
    Ok(Json(
        state
            .service
            .extend_lock(
                &user,
                &key(attempt),
                &body.worker_id,
                Duration::from_millis(body.duration_ms),
            )
            .await?,
    ))
}
