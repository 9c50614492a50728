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
    /// For a child instance (a ForEach iteration, a `call`ed or handed-off process): the
    /// instance and task that started it, and how it is linked; else `null`.
    pub parent: Option<ParentLink>,
    /// The topmost instance this one is a sub-process of; `null` for a root (an instance
    /// started on its own, or handed off, which lives on its own).
    pub root: Option<String>,
    /// The case: the id linking the instances users track as one entity (`baton case show`).
    pub case: String,
    /// The status label a hand-off recorded (Pega's Work Status, e.g. `Pending-Fulfillment`);
    /// `null` if none was.
    pub work_status: Option<String>,
    /// The instances this one handed off, oldest first (Pega's pyReferencedInsKeys).
    pub referenced_instances: Vec<String>,
    /// The sub-processes users spawned under this instance (Stardust), oldest first.
    pub spawned: Vec<String>,
    /// The peer instance that replaced this one (Stardust's abort-and-start); `null` if none.
    pub replaced_by: Option<String>,
    /// Its department scope (Stardust): only that department's users and administrators see
    /// it and act on it; `null`: every user may.
    pub department: Option<String>,
}

/// Where a child instance belongs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParentLink {
    /// The parent instance's id.
    pub instance: String,
    /// The parent's task that started this instance (a ForEach, `call` or `handoff` task).
    pub task: String,
    /// How this instance is linked to its parent.
    pub link: LinkKind,
    /// For an iteration: its position in the task's items, from 0; else `null`.
    pub index: Option<usize>,
}

/// How a child instance is linked to its parent (the Stardust hierarchy table says what each
/// means: the README's "Sub-processes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// One iteration of a ForEach task (Automic).
    Iteration,
    /// A synchronous sub-process of a `call` task.
    Call,
    /// A process handed off by a `handoff` task (Pega's Hand Off): on its own after its first
    /// stopping point.
    Handoff,
    /// A sub-process a user spawned (Stardust).
    Spawned,
    /// The instance that replaced one started in the wrong process (Stardust abort-and-start).
    Peer,
}

impl std::fmt::Display for LinkKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Iteration => "iteration",
            Self::Call => "call",
            Self::Handoff => "handoff",
            Self::Spawned => "spawned",
            Self::Peer => "peer",
        })
    }
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
    /// The instance that started this one; `null` for an instance started on its own.
    pub parent: Option<String>,
    /// How it is linked to its parent (`iteration`, `call`, `handoff`, …); `null` for an
    /// instance started on its own.
    pub link: Option<LinkKind>,
    /// The case it belongs to.
    pub case: String,
    /// The work status a hand-off recorded on it; `null` if none was.
    pub work_status: Option<String>,
    /// Its department scope; `null`: every user may see it.
    pub department: Option<String>,
}

/// The instances of one case: what users track as one entity (a root, its sub-processes,
/// what they handed off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Case {
    /// The case id (the id of the instance that started it).
    pub id: String,
    /// Every instance of the case, oldest first.
    pub instances: Vec<InstanceSummary>,
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
    /// Only the instances of this case.
    pub case: Option<String>,
    /// Only instances whose id starts with this (1 to 36 characters).
    pub id_prefix: Option<String>,
    /// Only instances with an open incident (a listing that pages no further).
    pub with_open_incident: bool,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// At most this many.
    pub limit: usize,
}
