//! History events: the append-only audit of every transition of an instance.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::status::{InstanceStatus, Reason, TaskStatus};
use crate::user_task::{HumanTaskId, PotentialOwners, UserTaskEventKind};

/// One entry of an instance's history. `seq` is unique and gap-free per instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    #[serde(with = "crate::timestamp")]
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// How one ForEach iteration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IterationEnd {
    pub index: usize,
    pub status: InstanceStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    InstanceStarted {
        definition: String,
        version: u32,
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        data: Map<String, Value>,
    },
    InstanceStatusChanged {
        to: InstanceStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    TaskStatusChanged {
        to: TaskStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// Process data written by a task (a `set`, or a job's JSON output).
    DataChanged { values: Map<String, Value> },
    /// A job's process was handed to a worker.
    JobDispatched {
        attempt: u32,
        /// Empty for an external job.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        command: Vec<String>,
        /// An external job's topic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
    },
    /// An external worker reported on a job attempt it held the lock of: `completed`, `failed`
    /// or `ended`, with its message.
    JobReported {
        attempt: u32,
        worker: String,
        report: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        duration_ms: u64,
    },
    /// A job's process finished (whatever its exit code); the tails of its output are kept.
    JobFinished {
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        stdout_tail: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        stderr_tail: String,
    },
    /// A job runs again: the engine restarted while it ran (at-least-once), or an operator asked.
    JobRetried { attempt: u32, reason: Reason },
    /// A decision chose these tasks.
    BranchesTaken { tasks: Vec<String> },
    /// The flow went back from this task to the earlier task `to` (a loop branch, or a person's
    /// `task back`, `by`): `tasks` run again.
    WentBack {
        to: String,
        tasks: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// A breakpoint was set or cleared on the running instance.
    BreakpointChanged { enabled: bool, by: String },
    /// Prompt values given for the task.
    InputProvided {
        values: Map<String, Value>,
        by: String,
    },
    /// Something to tell operators that changes no status (a runtime alert, an ignored action).
    Alert { reason: Reason },
    /// ForEach iterations `first` to `first + count - 1` started, each as a child instance
    /// (whose own history names its index).
    IterationsStarted { first: usize, count: usize },
    /// ForEach iterations ended: how many completed, and each one that did not.
    IterationsEnded {
        completed: usize,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        not_completed: Vec<IterationEnd>,
    },
    /// One ForEach iteration started (in histories written before iterations were recorded in runs).
    IterationStarted { index: usize },
    /// One ForEach iteration ended (in histories written before ends were recorded together).
    IterationEnded {
        index: usize,
        status: InstanceStatus,
    },
    /// A postcondition was evaluated once after the task ended.
    PostconditionEvaluated {
        condition: String,
        held: bool,
        action: String,
    },
    /// One human task of a `user` task changed: created, claimed, forwarded, suspended,
    /// escalated, completed, deleted… `human_task` numbers it within the task (`#0` is the
    /// original), `by` is who acted (`engine` for timers and the process).
    HumanTask {
        human_task: HumanTaskId,
        by: String,
        change: UserTaskEventKind,
    },
    /// An escalation asked for these people to be told that `human_task` escalated.
    PeopleNotified {
        human_task: HumanTaskId,
        escalation: String,
        to: PotentialOwners,
    },
    /// The instance was deleted; its human tasks were deleted with it.
    InstanceDeleted { by: String },
    /// A `call` or `handoff` task started child instance `child` of `process` (version
    /// `version`), linked as `link`. (In the child's history: its `InstanceStarted`.)
    ChildStarted {
        child: String,
        process: String,
        version: u32,
        link: crate::hierarchy::LinkKind,
        /// Who started it, for a user's operation (a spawn, an abort-and-start).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// A `call` task's failed child is recovered instead of a new one started.
    ChildRecovered { child: String },
    /// A `handoff` task recorded the instance's work status (Pega's Work Status).
    WorkStatusChanged { to: String },
    /// An operator recovered the instance: these tasks, which ended not OK, run again.
    Recovered { by: String, tasks: Vec<String> },
}
