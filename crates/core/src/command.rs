//! What an operator, a worker or the engine asks of an instance ([`Command`]), the durable
//! timers an instance sets ([`TimerKind`]) and how a job attempt ended ([`JobOutcome`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::status::{InstanceStatus, TaskStatus};

/// Something an operator, a worker or the engine asks of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// A worker reports the end of a job attempt.
    JobFinished {
        task: String,
        attempt: u32,
        outcome: JobOutcome,
    },
    /// The job's worker died (the engine restarted); run the job again as a new attempt.
    RedispatchJob { task: String, attempt: u32 },
    /// The lock an external worker held on a job attempt expired before it reported: the job
    /// is offered again as a new attempt, and a late report of the old one is refused.
    JobLockExpired {
        task: String,
        attempt: u32,
        worker: String,
    },
    /// Run an ended task again (its blocked successors wait for it again).
    RetryTask { task: String, by: String },
    /// End a blocked or waiting task `ended_skipped` so the workflow goes on.
    SkipTask { task: String, by: String },
    /// Send task `task` back to `to`, a task before it: `to` runs again with the tasks after
    /// it (see `rework`). `by` is an administrator, or one of the potential owners or
    /// administrators of `task`'s human task.
    SendBack {
        task: String,
        to: String,
        by: crate::people::Caller,
    },
    /// Abort the instance: open tasks are canceled, running jobs are stopped. With
    /// `abort_parent`, a `call`ed sub-process aborts the instances above it too (Stardust: "the
    /// user can decide whether to abort the root process instance").
    Abort {
        by: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        abort_parent: bool,
    },
    /// Recover an instance that failed, or is blocked by a failure: every task that ended not
    /// OK runs again, a `call` task recovering its failed child (see [`crate::hierarchy`]).
    /// `attempt` is for a `call`ed child recovered with its parent: the attempt of the parent's
    /// call task that now waits for it.
    Recover {
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempt: Option<u32>,
    },
    /// Stardust's spawn: start a deployed process as a sub-process of this instance (a root),
    /// linked `spawned`. Its start data is the data of the instance the user spawned from
    /// (`carried`, by value) under the user's `data`.
    Spawn {
        process: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u32>,
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        data: Map<String, Value>,
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        carried: Map<String, Value>,
        /// The document data the definition of the instance spawned from declares, for
        /// Stardust's mapping heuristics ([`crate::spawn::document_slots`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        origin_documents: Vec<crate::spawn::DocumentSlot>,
        by: String,
    },
    /// A sub-process spawned under this instance ended.
    SpawnedEnded {
        child: String,
        status: InstanceStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<crate::status::Reason>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        aborted_by: Option<String>,
    },
    /// Stardust's abort-and-start: abort this instance, started in the wrong process, and
    /// start a peer instance of the right one with its data, in one step.
    AbortAndStart {
        process: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u32>,
        by: String,
    },
    /// The child instance of `call` task `task` (started by attempt `attempt`) ended.
    ChildEnded {
        task: String,
        attempt: u32,
        child: String,
        status: InstanceStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<crate::status::Reason>,
        /// The child's data, for the call's `output` mapping.
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        data: Map<String, Value>,
        /// Who aborted the child, asking for its parents to be aborted too.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        aborted_by: Option<String>,
    },
    /// A durable timer the instance set came due.
    TimerFired { task: String, timer: TimerKind },
    /// Set or clear a breakpoint on a task of the running instance; clearing the breakpoint of a
    /// task blocked at it lets its start pipeline go on.
    SetBreakpoint {
        task: String,
        enabled: bool,
        by: String,
    },
    /// Values for a task's prompts (Automic PromptSets); they go into process data.
    ProvideInput {
        task: String,
        values: Map<String, Value>,
        by: String,
    },
    /// An iteration (child instance) of a ForEach task ended.
    IterationEnded {
        task: String,
        index: usize,
        status: InstanceStatus,
    },
    /// Several iterations of a ForEach task ended: applied as one step (the driver gathers the
    /// ends due together), each end counted once however often it is delivered.
    IterationsEnded {
        task: String,
        ends: Vec<crate::event::IterationEnd>,
    },
    /// An operation on one of the human tasks of `user` task `task`, for `actor` (a user the
    /// driver authenticated, or the engine itself, e.g. when a human task's timer fires).
    UserTask {
        task: String,
        actor: crate::user_task::Actor,
        #[serde(rename = "operation")]
        command: crate::user_task::UserTaskCommand,
    },
    /// A published event reached the instance (Siebel's implicit resumption): every `wait` task
    /// of it that waits for the event's name and key, and whose condition holds, receives it.
    /// Refused ([`TransitionError::NoWaitingTask`](crate::TransitionError)) when none does.
    EventReceived {
        event: crate::correlation::ReceivedEvent,
    },
    /// Delete the instance, finished or not: an open instance is aborted first, and every
    /// human task is deleted. The instance keeps its history and takes no more commands.
    Delete {
        by: String,
        /// Why, when it is not an operator's deletion (an interactive workflow without Auto
        /// Persist that left its session's cache): the instance's reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<crate::status::Reason>,
    },
    /// The user driving an interactive workflow submits view task `task` with `data`, which
    /// must fit the view's form (Siebel: the user's next action in an interactive step).
    Submit {
        task: String,
        data: Map<String, Value>,
        by: String,
    },
}

impl Command {
    /// The task the command is about, if it is about one.
    pub fn task(&self) -> Option<&str> {
        match self {
            Self::JobFinished { task, .. }
            | Self::RedispatchJob { task, .. }
            | Self::JobLockExpired { task, .. }
            | Self::RetryTask { task, .. }
            | Self::SkipTask { task, .. }
            | Self::SendBack { task, .. }
            | Self::TimerFired { task, .. }
            | Self::SetBreakpoint { task, .. }
            | Self::ProvideInput { task, .. }
            | Self::IterationEnded { task, .. }
            | Self::IterationsEnded { task, .. }
            | Self::ChildEnded { task, .. }
            | Self::Submit { task, .. }
            | Self::UserTask { task, .. } => Some(task),
            Self::Abort { .. }
            | Self::Delete { .. }
            | Self::Recover { .. }
            | Self::EventReceived { .. }
            | Self::Spawn { .. }
            | Self::SpawnedEnded { .. }
            | Self::AbortAndStart { .. } => None,
        }
    }

    /// The user who gives this command, for the commands a person gives by name (an operator's
    /// retry, skip, abort, breakpoint, input or delete).
    pub fn by(&self) -> Option<&str> {
        match self {
            Self::RetryTask { by, .. }
            | Self::SkipTask { by, .. }
            | Self::Abort { by, .. }
            | Self::Recover { by, .. }
            | Self::Spawn { by, .. }
            | Self::AbortAndStart { by, .. }
            | Self::SetBreakpoint { by, .. }
            | Self::ProvideInput { by, .. }
            | Self::Submit { by, .. }
            | Self::Delete { by, .. } => Some(by),
            _ => None,
        }
    }
}

/// What a durable timer was set for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimerKind {
    /// The task's earliest start time.
    EarliestStart,
    /// Check the task's preconditions again.
    PreconditionCheck,
    /// The job's maximum runtime, for this attempt.
    MaxRuntime { attempt: u32 },
    /// The wait of the job's retry policy after a failed attempt.
    JobRetry,
    /// A ForEach task may start more iterations than one step starts: start the next ones.
    LaunchIterations,
    /// A `wait` task's `timeout`, for its run `attempt` (a later run's wait is not ended by it).
    EventTimeout { attempt: u32 },
}

impl TimerKind {
    /// The timer's key within the instance: one timer per task and kind.
    pub fn key(self, task: &str) -> String {
        let kind = match self {
            Self::EarliestStart => "earliest_start",
            Self::PreconditionCheck => "precondition_check",
            Self::MaxRuntime { .. } => "max_runtime",
            Self::JobRetry => "job_retry",
            Self::LaunchIterations => "launch_iterations",
            Self::EventTimeout { .. } => "event_timeout",
        };
        format!("{task}/{kind}")
    }
}

/// How a job attempt ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum JobOutcome {
    Exited {
        code: i32,
        /// A JSON object the job printed (or wrote to `$BATON_OUTPUT`), merged into process data on success.
        #[serde(default)]
        output: Option<Map<String, Value>>,
        #[serde(default)]
        stdout_tail: String,
        #[serde(default)]
        stderr_tail: String,
        duration_ms: u64,
    },
    TimedOut {
        after_ms: u64,
        #[serde(default)]
        stdout_tail: String,
        #[serde(default)]
        stderr_tail: String,
    },
    CouldNotStart {
        message: String,
    },
    /// An external worker that held the attempt's lock reported on it.
    Reported {
        worker: String,
        report: WorkerReport,
    },
}

/// What an external worker reports on a job it fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "report", rename_all = "snake_case")]
pub enum WorkerReport {
    /// The work is done; `output` is merged into process data, like a command's JSON output.
    Completed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Map<String, Value>>,
    },
    /// The work failed. With `retry` and a retry left in the task's `retry:` policy the job runs
    /// again after the policy's delay (or `retry_after_ms`); without, the task ends `ended_not_ok`.
    Failed {
        message: String,
        retry: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// End the task with a status the worker chose (a business error is `ended_not_ok` with no
    /// retry); `output` is merged into process data first.
    Ended {
        status: WorkerEndStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Map<String, Value>>,
    },
}

impl WorkerReport {
    /// The output the report brings, if any.
    pub fn output(&self) -> Option<&Map<String, Value>> {
        match self {
            Self::Completed { output } | Self::Ended { output, .. } => output.as_ref(),
            Self::Failed { .. } => None,
        }
    }

    /// The report's name in history (`completed`, `failed`, `ended`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Completed { .. } => "completed",
            Self::Failed { .. } => "failed",
            Self::Ended { .. } => "ended",
        }
    }
}

/// The end statuses an external worker may give a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerEndStatus {
    EndedOk,
    EndedNotOk,
    EndedSkipped,
}

impl WorkerEndStatus {
    pub fn status(self) -> TaskStatus {
        match self {
            Self::EndedOk => TaskStatus::EndedOk,
            Self::EndedNotOk => TaskStatus::EndedNotOk,
            Self::EndedSkipped => TaskStatus::EndedSkipped,
        }
    }
}
