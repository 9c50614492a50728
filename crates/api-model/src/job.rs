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
}
