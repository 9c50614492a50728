//! The state of one process instance, as persisted (format version [`STATE_FORMAT`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::status::{InstanceStatus, Reason, TaskStatus};

/// Version of the persisted instance format. Bump it with a migration when the shape changes,
/// so an upgrade never breaks waiting instances.
///
/// - 1: the first format. A parent link was a ForEach iteration's; there was no case or root.
/// - 2: the instance hierarchy: link kinds, `case`, `root`, `depth`, `work_status` and
///   `referenced_instances`. A format-1 state reads as format 2 (every new field has a
///   default), with its case and root taken from the columns the store's migration filled
///   ([`Instance::upgrade_from_v1`]). `department` came later within format 2: it is
///   optional, and a state without one is unscoped, as every instance was before.
pub const STATE_FORMAT: u32 = 2;

/// The oldest format this version of Baton reads.
pub const OLDEST_STATE_FORMAT: u32 = 1;

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
    /// For a child instance (a ForEach iteration, a `call`ed or handed-off process…): the
    /// instance and task that started it, and the kind of link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentLink>,
    /// The topmost instance this one is a sub-process of; none for a root (an instance started
    /// on its own, or handed off, which lives on its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// The case: the id linking the instances users track as one entity (the id of the first
    /// instance of the case, inherited by everything it starts).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub case: String,
    /// How many links up to the top of its hierarchy (0 for an instance started on its own).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub depth: u32,
    /// The department whose users may see and act on the instance (Stardust's department
    /// scoping); none: every user may. A root takes it from its start data (the definition's
    /// `department` expression); every instance started from another takes that one's as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The status label a `handoff` task recorded (Pega's Work Status, e.g. `Pending-Fulfillment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_status: Option<String>,
    /// The instances this one handed off, in order (Pega's pyReferencedInsKeys).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referenced_instances: Vec<String>,
    /// The sub-processes users spawned under this instance (Stardust), and how each ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spawned: Vec<ChildRef>,
    /// The peer instance that replaced this one (Stardust's abort-and-start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    /// For an iteration of a ForEach task: its item and position (`item`, `index` in CEL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<Iteration>,
    /// When the instance was deleted (its human tasks were deleted with it; it takes no more commands).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "crate::timestamp::option")]
    pub deleted_at: Option<DateTime<Utc>>,
}

pub use crate::hierarchy::{LinkKind, ParentLink};

/// Where a new instance sits in its hierarchy (see [`crate::hierarchy`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placement {
    pub parent: Option<ParentLink>,
    pub root: Option<String>,
    /// Empty for an instance that starts a case of its own (its id becomes the case's).
    pub case: String,
    pub depth: u32,
    /// The department scope it inherits (see [`Instance::department`]).
    pub department: Option<String>,
}

impl Placement {
    /// A child linked by `link` (of a parent that is a root, at depth 0).
    pub fn linked(link: ParentLink) -> Self {
        let case = link.instance.clone();
        let root = link
            .rules()
            .subprocess_of_root
            .then(|| link.instance.clone());
        Placement {
            parent: Some(link),
            root,
            case,
            depth: 1,
            department: None,
        }
    }
}

impl Instance {
    /// The instance's case (its own id for a state that names none).
    pub fn case_id(&self) -> &str {
        if self.case.is_empty() {
            &self.id
        } else {
            &self.case
        }
    }

    /// The root of the instance's hierarchy: its `root`, or itself.
    pub fn root_id(&self) -> &str {
        self.root.as_deref().unwrap_or(&self.id)
    }

    /// Where a child of this instance linked by `link` sits: a sub-process of this instance's
    /// root if its link kind makes it one, a root of its own if not; in this instance's case
    /// either way, one level deeper.
    pub fn child_placement(&self, link: ParentLink) -> Placement {
        let root = link
            .rules()
            .subprocess_of_root
            .then(|| self.root_id().to_owned());
        Placement {
            parent: Some(link),
            root,
            case: self.case_id().to_owned(),
            depth: self.depth + 1,
            department: self.department.clone(),
        }
    }

    /// Completes a state stored in format 1, which had no case or root: the store's migration
    /// computed both from the parent links (`case` and `root` are the topmost ancestor's id).
    pub fn upgrade_from_v1(&mut self, case: Option<String>, root: Option<String>) {
        if self.case.is_empty() {
            self.case = case.unwrap_or_else(|| self.id.clone());
        }
        if self.root.is_none() && self.parent.is_some() {
            self.root = root.filter(|r| *r != self.id);
        }
    }
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
    /// For a decision: how often its loop branches went back since the flow last entered the
    /// loop around it (or an operator retried it): what `max_loops` counts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub loops: u32,
    /// A ForEach task's progress through its items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<ForEachProgress>,
    /// A `user` task's human tasks (the original, its follow-ons and subtasks), once it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_task: Option<std::sync::Arc<crate::user_task::UserTask>>,
    /// A `call` or `handoff` task's child instance (the latest one it started), and how the
    /// child of a `call` ended, once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<ChildRef>,
}

/// The child instance a `call` or `handoff` task started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildRef {
    pub instance: String,
    /// How the child ended, once the parent heard of it (a `call`'s child only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<InstanceStatus>,
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
            loops: 0,
            foreach: None,
            user_task: None,
            child: None,
        }
    }
}

impl Default for TaskState {
    fn default() -> Self {
        Self::new()
    }
}
