//! Incidents: steps that could not be applied and were set aside (Camunda's incidents).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What raised an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// A step failed the same way on every attempt.
    StepFailed,
    /// A task was started by `run` actions more often than the run limit allows.
    RunLimit,
    /// A decision's loop branch went back more often than its `max_loops` allows.
    LoopLimit,
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Incident {
    /// The incident's number (`baton incident retry|resolve ID`).
    pub id: i64,
    /// The instance it belongs to.
    pub instance: String,
    /// The task whose step failed; `null` for the instance as a whole.
    pub task: Option<String>,
    /// What raised it.
    pub kind: IncidentKind,
    /// Why the step could not be applied.
    pub reason: String,
    /// How many times the step was tried.
    pub attempts: u32,
    /// When it was raised.
    pub raised_at: DateTime<Utc>,
    /// When it was closed; `null` while open.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who closed it; `null` while open.
    pub resolved_by: Option<String>,
    /// How it was closed: `retried` (its step applied) or `resolved` (by hand); `null` while open.
    pub resolution: Option<String>,
}
