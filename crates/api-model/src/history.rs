//! An instance's history: the append-only audit of every transition, one event each.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::human_task::{HumanTaskRole, HumanTaskState};
use crate::instance::InstanceStatus;
use crate::people::People;
use crate::reason::Reason;
use crate::task::TaskState;
use crate::Data;

/// One event of an instance's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryEvent {
    /// Its number: 1, 2, 3, … without gaps within the instance.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The task it is about; `null` for the instance as a whole.
    pub task: Option<String>,
    /// What happened: `event` names it, the other keys are its values.
    #[serde(flatten)]
    pub event: Event,
}

/// What happened, by `event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The instance started on `version` of `process` with `data`.
    InstanceStarted {
        /// The process (definition id).
        process: String,
        /// The definition's version.
        version: u32,
        /// The process data it started with.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        data: Data,
    },
    /// The instance's status changed.
    InstanceStatusChanged {
        /// The new status.
        to: InstanceStatus,
        /// The rule that changed it; `null` if none.
        reason: Option<Reason>,
    },
    /// The task's status changed.
    TaskStatusChanged {
        /// The new status and what it names.
        to: TaskState,
        /// The rule that changed it; `null` if none.
        reason: Option<Reason>,
    },
    /// The task wrote process data (a `set`, a job's output, a human task's output).
    DataChanged {
        /// The values written.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        values: Data,
    },
    /// A job attempt was handed to a worker.
    JobDispatched {
        /// The attempt, from 1.
        attempt: u32,
        /// The command it runs (argv); empty for an external job.
        command: Vec<String>,
        /// An external job's topic: a worker fetching that topic does it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
    },
    /// An external worker that held the lock of a job attempt reported on it.
    JobReported {
        /// The attempt.
        attempt: u32,
        /// The worker's id.
        worker: String,
        /// `completed`, `failed` or `ended`.
        report: String,
        /// The worker's message (a failure's, or an end's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// From the dispatch to the report, in milliseconds.
        duration_ms: u64,
    },
    /// A job attempt's process ended.
    JobFinished {
        /// The attempt.
        attempt: u32,
        /// Its exit code; `null` if it was stopped by a signal or could not start.
        exit_code: Option<i32>,
        /// How long it ran, in milliseconds.
        duration_ms: u64,
        /// The last 2,000 characters of its stdout (may be empty).
        stdout_tail: String,
        /// The last 2,000 characters of its stderr (may be empty).
        stderr_tail: String,
    },
    /// A job runs again as a new attempt (the engine restarted while it ran, or an operator asked).
    JobRetried {
        /// The new attempt.
        attempt: u32,
        /// Why.
        reason: Reason,
    },
    /// A decision chose these tasks.
    BranchesTaken {
        /// The tasks its branches lead to.
        tasks: Vec<String>,
    },
    /// The flow went back from this task to an earlier one, which runs again with the tasks
    /// after it: a decision's loop branch (`back_to`), or a person's `task back`.
    WentBack {
        /// The earlier task.
        to: String,
        /// The tasks that run again.
        tasks: Vec<String>,
        /// Who sent the task back; `null` for a loop branch.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// A breakpoint was set or cleared on the running instance.
    BreakpointChanged {
        /// Set (`true`) or cleared.
        enabled: bool,
        /// Who did it.
        by: String,
    },
    /// Values were given for the task's prompts.
    InputProvided {
        /// The values.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        values: Data,
        /// Who gave them.
        by: String,
    },
    /// Something to tell operators that changed no status (a runtime alert, an ignored action).
    Alert {
        /// What.
        reason: Reason,
    },
    /// ForEach iterations `first` to `first + count - 1` started, each as a child instance.
    IterationsStarted {
        /// The position of the first in the items, from 0.
        first: usize,
        /// How many started.
        count: usize,
    },
    /// ForEach iterations ended, taken together in one step.
    IterationsEnded {
        /// How many of them completed.
        completed: usize,
        /// Each one that did not complete: its position and how its child instance ended.
        not_completed: Vec<IterationOutcome>,
    },
    /// A ForEach iteration started as a child instance (histories written before iterations
    /// were recorded in runs).
    IterationStarted {
        /// Its position in the items, from 0.
        index: usize,
    },
    /// A ForEach iteration ended.
    IterationEnded {
        /// Its position in the items.
        index: usize,
        /// How its child instance ended.
        status: InstanceStatus,
    },
    /// A postcondition was evaluated after the task ended.
    PostconditionEvaluated {
        /// The condition's expression.
        condition: String,
        /// Did it hold?
        held: bool,
        /// The action that applied.
        action: String,
    },
    /// One human task of the `user` task changed.
    HumanTask {
        /// The human task's number.
        human_task: u32,
        /// Who acted (`engine` for timers and the process).
        by: String,
        /// What changed.
        change: HumanTaskChange,
    },
    /// An escalation asked for these people to be told that the human task escalated.
    PeopleNotified {
        /// The human task's number.
        human_task: u32,
        /// The escalation's name.
        escalation: String,
        /// Who is to be told.
        to: People,
    },
    /// The instance was deleted; its human tasks were deleted with it.
    InstanceDeleted {
        /// Who deleted it.
        by: String,
    },
    /// A `call` or `handoff` task started a child instance.
    ChildStarted {
        /// The child instance's id.
        child: String,
        /// The process it runs.
        process: String,
        /// The version of that process.
        version: u32,
        /// How it is linked to this instance.
        link: crate::instance::LinkKind,
        /// Who started it, for a user's operation (a Stardust spawn or abort-and-start).
        by: Option<String>,
    },
    /// A `call` task runs again and recovers its failed child instead of starting a new one.
    ChildRecovered {
        /// The child instance's id.
        child: String,
    },
    /// A `handoff` task recorded the instance's work status (Pega's Work Status).
    WorkStatusChanged {
        /// The new work status.
        to: String,
    },
    /// An operator recovered the instance: these tasks, which ended not OK, run again.
    Recovered {
        /// Who recovered it.
        by: String,
        /// The tasks that run again.
        tasks: Vec<String>,
    },
}

/// How a human task changed, by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HumanTaskChange {
    /// It was created.
    Created {
        /// The original, a follow-on or a subtask.
        role: HumanTaskRole,
        /// For a follow-on the task it follows, for a subtask its parent; else `null`.
        of: Option<u32>,
        /// Its title.
        title: String,
        /// Who may claim it.
        potential_owners: People,
    },
    /// Its status changed.
    StatusChanged {
        /// The new status and what it names.
        to: HumanTaskState,
    },
    /// It escalated (`origin` is itself), or a task before it in its chain did.
    Escalated {
        /// The escalation's name.
        name: String,
        /// The task that escalated.
        origin: u32,
    },
    /// Its priority changed.
    PriorityChanged {
        /// The new priority.
        to: i32,
    },
    /// It was offered to other people.
    Reassigned {
        /// Its new potential owners.
        to: People,
    },
    /// One of its subtask chains ended.
    SubtaskEnded {
        /// The subtask chain's first task.
        subtask: u32,
        /// How it ended.
        status: String,
    },
}

/// A ForEach iteration that did not complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IterationOutcome {
    /// Its position in the items.
    pub index: usize,
    /// How its child instance ended.
    pub status: InstanceStatus,
}
