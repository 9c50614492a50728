//! A process instance as the surfaces show it, and one row of an instance listing.

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::task::Task;
use crate::Data;

/// The status of a process instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    /// Work is under way (a job is out, or a step is due).
    Running,
    /// Nothing runs: tasks wait for a time, a precondition, input or people.
    Waiting,
    /// Nothing can go on until an operator acts on a blocked task.
    Blocked,
    /// Every task ended and no failure was left unhandled.
    Completed,
    /// Every task ended, but a task ended not OK and nothing downstream expected that.
    Failed,
    /// Stopped by an operator or an `abort` action; open tasks were canceled.
    Aborted,
}

/// One process instance: its status, data and every task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Instance {
    /// The instance id (a UUID).
    pub id: String,
    /// The process (definition id) it runs; a ForEach iteration's is `PROCESS/TASK`.
    pub process: String,
    /// The version of the definition it started on (and keeps).
    pub version: u32,
    /// The instance's status.
    pub status: InstanceStatus,
    /// The process data now.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Data,
    /// Every task of the definition by its id, each after its predecessors (the order
    /// `baton show` prints them in).
    pub tasks: IndexMap<String, Task>,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When its state last changed.
    pub updated_at: DateTime<Utc>,
    /// When it reached `completed`, `failed` or `aborted`; `null` while open.
    pub ended_at: Option<DateTime<Utc>>,
    /// When it was deleted (it takes no more commands; its history stays); `null` if it was not.
    pub deleted_at: Option<DateTime<Utc>>,
    /// For an iteration of a ForEach task: the instance and task it belongs to; else `null`.
    pub parent: Option<ParentLink>,
}

/// Where a child instance (a ForEach iteration) belongs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParentLink {
    /// The parent instance's id.
    pub instance: String,
    /// The ForEach task of the parent.
    pub task: String,
    /// The iteration's position in the task's items, from 0.
    pub index: usize,
}

/// One row of an instance listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceSummary {
    /// The instance id.
    pub id: String,
    /// The process (definition id) it runs.
    pub process: String,
    /// The version of the definition it runs.
    pub version: u32,
    /// The instance's status.
    pub status: InstanceStatus,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it ended; `null` while open.
    pub ended_at: Option<DateTime<Utc>>,
}

/// A page of an instance listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstancePage {
    /// The instances, newest first.
    pub instances: Vec<InstanceSummary>,
    /// Pass it as `cursor` for the next page; `null` when this page is the last.
    pub next_cursor: Option<String>,
}

/// Which instances to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceFilter {
    /// Only instances in this status.
    pub status: Option<InstanceStatus>,
    /// Only instances of this process.
    pub process: Option<String>,
    /// Only instances started at or after this time.
    pub started_after: Option<chrono::DateTime<chrono::Utc>>,
    /// Only instances started before this time.
    pub started_before: Option<chrono::DateTime<chrono::Utc>>,
    /// Only instances with an open incident (a listing that pages no further).
    pub with_open_incident: bool,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// At most this many.
    pub limit: usize,
}
