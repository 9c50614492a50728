//! The state of one process instance, as persisted (format version [`STATE_FORMAT`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::status::{InstanceStatus, Reason, TaskStatus};

/// Version of the persisted instance format. Bump it with a migration when the shape changes,
/// so an upgrade never breaks waiting instances.
pub const STATE_FORMAT: u32 = 1;

/// One running (or finished) process instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub definition_id: String,
    pub definition_version: u32,
    pub status: InstanceStatus,
    /// Empty data is not written (an iteration that wrote nothing has none of its own).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
    /// One entry per task of the definition, in the definition's order.
    pub tasks: Vec<TaskState>,
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp::option")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Sequence number of the next history event.
    pub next_seq: u64,
    /// For an iteration of a ForEach task: the instance and task it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentLink>,
    /// For an iteration of a ForEach task: its item and position (`item`, `index` in CEL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<Iteration>,
    /// When the instance was deleted (its human tasks were deleted with it; it takes no more commands).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "crate::timestamp::option")]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Where a child instance belongs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentLink {
    pub instance: String,
    pub task: String,
    pub index: usize,
}

/// One iteration of a ForEach body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Iteration {
    pub index: usize,
    pub item: Value,
    /// The attempt of the parent's ForEach task whose snapshot this iteration reads its data
    /// through (its own `data` then holds only its writes). None for an iteration stored with a
    /// copy of the data, by a Baton that copied it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<u32>,
}

mod foreach_progress;
mod foreach_snapshot;
pub use foreach_progress::ForEachProgress;
pub use foreach_snapshot::ForEachSnapshot;

/// The state of one task in an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    #[serde(flatten)]
    pub status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "crate::timestamp::option")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "crate::timestamp::option")]
    pub ended_at: Option<DateTime<Utc>>,
    /// For a decision: the indices of the tasks its chosen branches lead to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taken: Vec<usize>,
    /// How many times the task was started (a retry or re-run after a crash adds one).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// A breakpoint set or cleared on the running instance (overrides the definition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakpoint: Option<bool>,
    /// An on-demand task that an action started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub triggered: bool,
    /// A job generated at activation: its environment, resolved when the instance started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<Result<Vec<(String, String)>, Reason>>,
    /// Postconditions were evaluated for the current run (they run once per end).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub post_checked: bool,
    /// Restarts done by postconditions.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restarts: u32,
    /// Retries of the job's retry policy used in the current run (a new run starts again at 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// Runs since an operator last retried the task: what the run limit (`max_runs`) counts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub runs: u32,
    /// A ForEach task's progress through its items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<ForEachProgress>,
    /// A `user` task's human tasks (the original, its follow-ons and subtasks), once it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_task: Option<std::sync::Arc<crate::user_task::UserTask>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl TaskState {
    pub fn new() -> Self {
        Self {
            status: TaskStatus::WaitingForPredecessor,
            reason: None,
            started_at: None,
            ended_at: None,
            taken: Vec::new(),
            attempts: 0,
            breakpoint: None,
            triggered: false,
            generated: None,
            post_checked: false,
            restarts: 0,
            retries: 0,
            runs: 0,
            foreach: None,
            user_task: None,
        }
    }
}

impl Default for TaskState {
    fn default() -> Self {
        Self::new()
    }
}
