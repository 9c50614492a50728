//! The request bodies and query strings the API takes. Those a client of the API writes too
//! (`baton --server`) are api-model's, so their wire format is defined once; an external
//! worker's and the event stream's are the server's own, with the error of a field that does
//! not hold what it should.

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use baton_api_model::Data;

pub use baton_api_model::requests::*;

/// Which changes an event stream shows (both given: both must hold).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only this instance's changes.
    pub instance: Option<String>,
    /// Only the changes of human tasks this user may see, and no `instance` events (a user
    /// other than the acting one takes an administrator).
    pub user: Option<String>,
}

/// A request field that does not hold what it should.
#[derive(Debug, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// A fetch of external jobs (Camunda's fetch-and-lock).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchAndLock {
    /// The worker's id (1 to 200 ASCII letters, digits, `.`, `_`, `-`, `:`): its reports name it.
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,200}$")]
    pub worker_id: String,
    /// The topics it works (1 to 100), each written like a worker id.
    #[schema(schema_with = topics_schema)]
    pub topics: Vec<String>,
    /// Most jobs to lock, 1 to 1,000 (default 10).
    #[serde(default = "default_max_jobs", deserialize_with = "whole")]
    #[schema(minimum = 1, maximum = 1000)]
    pub max_jobs: usize,
    /// How long the locks last, 1,000 ms to 24 h (default 5 minutes).
    #[serde(default = "default_lock_ms", deserialize_with = "whole")]
    #[schema(minimum = 1000, maximum = 86400000)]
    pub lock_duration_ms: u64,
    /// With no job queued, how long to wait for one, up to 300,000 ms (default 0: answer at once).
    #[serde(default, deserialize_with = "whole")]
    #[schema(maximum = 300000)]
    pub timeout_ms: u64,
}

/// How a worker id and a topic are written (see `wire_name_problem`).
const WIRE_NAME: &str = r"^[A-Za-z0-9._:-]{1,200}$";

fn topics_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .description(Some("The topics it works (1 to 100), each written like a worker id."))
        .items(ObjectBuilder::new().schema_type(Type::String).pattern(Some(WIRE_NAME)))
        .min_items(Some(1))
        .max_items(Some(100))
        .build()
}

fn default_max_jobs() -> usize {
    10
}

fn default_lock_ms() -> u64 {
    300_000
}

/// A worker's report that the job is done.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteJob {
    /// The worker holding the lock.
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,200}$")]
    pub worker_id: String,
    /// Output merged into process data (checked against the data limits and declared types).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: Option<Data>,
}

/// A worker's report that the job failed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailJob {
    /// The worker holding the lock.
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,200}$")]
    pub worker_id: String,
    /// Why (at most 8 KiB).
    pub message: String,
    /// Run it again if the task's `retry:` policy has a retry left (default `true`); `false`
    /// ends the task `ended_not_ok` now.
    #[serde(default = "default_true")]
    pub retry: bool,
    /// Wait this long before the retry instead of the policy's delay, at most 30 days.
    #[serde(default, deserialize_with = "whole_or_null")]
    #[schema(maximum = 2592000000.0)]
    pub retry_after_ms: Option<u64>,
}

fn default_true() -> bool {
    true
}

/// A worker's report ending the job with a status of its choosing (a business error).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndJob {
    /// The worker holding the lock.
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,200}$")]
    pub worker_id: String,
    /// `ended_ok`, `ended_not_ok` or `ended_skipped`.
    pub status: WorkerEndStatus,
    /// Why (at most 8 KiB).
    #[serde(default)]
    pub message: Option<String>,
    /// Output merged into process data first.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: Option<Data>,
}

/// The end statuses a worker may give a job.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkerEndStatus {
    EndedOk,
    EndedNotOk,
    EndedSkipped,
}

impl From<WorkerEndStatus> for baton_core::WorkerEndStatus {
    fn from(status: WorkerEndStatus) -> Self {
        match status {
            WorkerEndStatus::EndedOk => Self::EndedOk,
            WorkerEndStatus::EndedNotOk => Self::EndedNotOk,
            WorkerEndStatus::EndedSkipped => Self::EndedSkipped,
        }
    }
}

/// A worker's extension of its lock.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendLock {
    /// The worker holding the lock.
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,200}$")]
    pub worker_id: String,
    /// The lock's new length from now, 1,000 ms to 24 h.
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 1000, maximum = 86400000)]
    pub duration_ms: u64,
}
