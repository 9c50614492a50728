//! Jobs: the work queued for, or out with, a worker.

use serde::{Deserialize, Serialize};

/// One job attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    /// The instance it belongs to.
    pub instance: String,
    /// Its `job` task.
    pub task: String,
    /// The attempt, from 1.
    pub attempt: u32,
}

/// The job queue at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jobs {
    /// How many jobs wait for a worker.
    pub queued: usize,
    /// The jobs a worker has taken and not finished.
    pub leased: Vec<Job>,
    /// External jobs (done by workers that fetch them over the API), by topic.
    pub external: Vec<TopicJobs>,
}

/// An external job a worker fetched and locked: the work it is given (Camunda's locked
/// external task).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExternalJob {
    /// The instance it belongs to.
    pub instance: String,
    /// Its `job` task.
    pub task: String,
    /// The attempt, from 1: a report names it, and is refused once it is over.
    pub attempt: u32,
    /// The topic it was fetched by.
    pub topic: String,
    /// The process data the instance saw when the job was dispatched.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: crate::Data,
    /// The task's `env`, computed from the data (inside a ForEach body it sees `item` and `index`).
    pub env: std::collections::BTreeMap<String, String>,
    /// The worker holding the lock.
    pub worker: String,
    /// When the lock expires: report or extend it before then, or the job is offered again
    /// as a new attempt and this one's reports are refused.
    pub lock_expires_at: chrono::DateTime<chrono::Utc>,
}

/// A worker's lock on a job attempt, as extended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobLock {
    /// The instance.
    pub instance: String,
    /// The task.
    pub task: String,
    /// The attempt.
    pub attempt: u32,
    /// The worker holding the lock.
    pub worker: String,
    /// When the lock now expires.
    pub lock_expires_at: chrono::DateTime<chrono::Utc>,
}

/// External jobs of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicJobs {
    /// The topic.
    pub topic: String,
    /// Jobs waiting for a worker to fetch them.
    pub queued: usize,
    /// Jobs a worker holds the lock of.
    pub locked: usize,
}
