//! Task and instance statuses, named as the seeds name them (Automic's `ended_ok`,
//! `ended_not_ok`, `ended_skipped`, …; IBM's `ready`, `claimed`, `forwarded`, `suspended`,
//! `escalated`, `expired`, `terminated` for `user` tasks), and the reasons that put a task in
//! its status.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::user_task::HumanTaskId;

/// Where a task is in its lifecycle. Data-carrying so a status says what it needs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TaskStatus {
    /// Automic: "A task always waits until all its direct predecessors have reached the expected status".
    WaitingForPredecessor,
    /// The earliest start time has not come yet (a durable timer wakes the task).
    WaitingForStartTime {
        #[serde(with = "crate::timestamp")]
        until: DateTime<Utc>,
    },
    /// A precondition with `else: wait` does not hold yet; checked again at `next_check`.
    WaitingForPrecondition {
        #[serde(with = "crate::timestamp")]
        next_check: DateTime<Utc>,
    },
    /// A prompt set needs input before the task can run.
    WaitingForUserInput,
    /// A `wait` task waits for event `event` with correlation key `key` (evaluated when it
    /// began waiting, `since`); a subscription in the store finds it by that pair.
    WaitingForEvent {
        event: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        #[serde(with = "crate::timestamp")]
        since: DateTime<Utc>,
    },
    /// The workflow stopped at this task (a breakpoint, or an else action `block`); an
    /// operator must act. The reason says which rule blocked it.
    Blocked,
    /// A job attempt failed and its retry policy runs it again at `until` (a durable timer).
    WaitingForRetry {
        #[serde(with = "crate::timestamp")]
        until: DateTime<Utc>,
    },
    /// A job is out with a worker; `attempt` counts re-runs after a crash or an operator retry.
    Running {
        attempt: u32,
        #[serde(with = "crate::timestamp")]
        since: DateTime<Utc>,
    },
    /// A `user` task offered to its potential owners (nobody claimed it).
    Ready,
    /// A `user` task claimed by `by`.
    Claimed {
        by: String,
        #[serde(with = "crate::timestamp")]
        since: DateTime<Utc>,
    },
    /// A `user` task whose owner started a follow-on task: its work ended and the chain goes on
    /// in human task `to` (the chain's current task), whose output the process will get.
    Forwarded {
        to: HumanTaskId,
    },
    /// A `user` task whose chain is suspended (each task of the chain is in the `suspended` substate).
    Suspended {
        #[serde(with = "crate::timestamp")]
        since: DateTime<Utc>,
        by: String,
    },
    /// A `user` task that escalated (`escalation` is the latest); `claimed_by` names its owner if claimed.
    Escalated {
        escalation: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        claimed_by: Option<String>,
    },
    EndedOk,
    EndedNotOk,
    EndedSkipped,
    /// Not run: not a day of its calendar, `active: false`, or an on-demand task never started.
    EndedInactive,
    /// Not run: its latest start passed, or it would have ended after its latest end.
    EndedTimeout,
    /// The instance ended (aborted, or a terminating end) before this task could.
    Canceled,
    /// A `user` task whose chain was terminated (by an administrator, or deleted).
    Terminated,
    /// A `user` task whose expiration came before its chain ended: the chain's last task expired.
    Expired,
}

impl TaskStatus {
    /// The status without its data: what the lifecycle table is written in.
    pub fn kind(&self) -> TaskStatusKind {
        use TaskStatusKind as K;
        match self {
            Self::WaitingForPredecessor => K::WaitingForPredecessor,
            Self::WaitingForStartTime { .. } => K::WaitingForStartTime,
            Self::WaitingForPrecondition { .. } => K::WaitingForPrecondition,
            Self::WaitingForUserInput => K::WaitingForUserInput,
            Self::WaitingForEvent { .. } => K::WaitingForEvent,
            Self::Blocked => K::Blocked,
            Self::WaitingForRetry { .. } => K::WaitingForRetry,
            Self::Running { .. } => K::Running,
            Self::Ready => K::Ready,
            Self::Claimed { .. } => K::Claimed,
            Self::Forwarded { .. } => K::Forwarded,
            Self::Suspended { .. } => K::Suspended,
            Self::Escalated { .. } => K::Escalated,
            Self::EndedOk => K::EndedOk,
            Self::EndedNotOk => K::EndedNotOk,
            Self::EndedSkipped => K::EndedSkipped,
            Self::EndedInactive => K::EndedInactive,
            Self::EndedTimeout => K::EndedTimeout,
            Self::Canceled => K::Canceled,
            Self::Terminated => K::Terminated,
            Self::Expired => K::Expired,
        }
    }

    /// The name users see, as in the seeds.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Has the task reached an end status (Automic's "Skipped or Ended")?
    pub fn is_end(&self) -> bool {
        matches!(
            self,
            Self::EndedOk
                | Self::EndedNotOk
                | Self::EndedSkipped
                | Self::EndedInactive
                | Self::EndedTimeout
                | Self::Canceled
                | Self::Terminated
                | Self::Expired
        )
    }

    /// Waiting for time, a precondition, input, an event or people (an open human task): nothing is
    /// running, nothing is wrong.
    pub fn is_waiting(&self) -> bool {
        matches!(
            self,
            Self::WaitingForStartTime { .. }
                | Self::WaitingForPrecondition { .. }
                | Self::WaitingForUserInput
                | Self::WaitingForEvent { .. }
        ) || self.is_with_people()
    }

    /// An open `user` task: its work is with people (`ready`, `claimed`, `forwarded`,
    /// `suspended` or `escalated`).
    pub fn is_with_people(&self) -> bool {
        matches!(
            self,
            Self::Ready
                | Self::Claimed { .. }
                | Self::Forwarded { .. }
                | Self::Suspended { .. }
                | Self::Escalated { .. }
        )
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A [`TaskStatus`] without its data, for tables and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskStatusKind {
    WaitingForPredecessor,
    WaitingForStartTime,
    WaitingForPrecondition,
    WaitingForUserInput,
    WaitingForEvent,
    Blocked,
    WaitingForRetry,
    Running,
    Ready,
    Claimed,
    Forwarded,
    Suspended,
    Escalated,
    EndedOk,
    EndedNotOk,
    EndedSkipped,
    EndedInactive,
    EndedTimeout,
    Canceled,
    Terminated,
    Expired,
}

impl TaskStatusKind {
    /// Every kind, in the order of the lifecycle: waiting, running, with people (these
    /// [`OPEN`](Self::OPEN) have not ended), then the end statuses.
    pub const ALL: [Self; 21] = [
        Self::WaitingForPredecessor,
        Self::WaitingForStartTime,
        Self::WaitingForPrecondition,
        Self::WaitingForUserInput,
        Self::WaitingForEvent,
        Self::Blocked,
        Self::WaitingForRetry,
        Self::Running,
        Self::Ready,
        Self::Claimed,
        Self::Forwarded,
        Self::Suspended,
        Self::Escalated,
        Self::EndedOk,
        Self::EndedNotOk,
        Self::EndedSkipped,
        Self::EndedInactive,
        Self::EndedTimeout,
        Self::Canceled,
        Self::Terminated,
        Self::Expired,
    ];

    /// How many of [`ALL`](Self::ALL), from the first, have not ended.
    pub const OPEN: usize = 13;

    /// The name users see, as in the seeds.
    pub fn name(self) -> &'static str {
        match self {
            Self::WaitingForPredecessor => "waiting_for_predecessor",
            Self::WaitingForStartTime => "waiting_for_start_time",
            Self::WaitingForPrecondition => "waiting_for_precondition",
            Self::WaitingForUserInput => "waiting_for_user_input",
            Self::WaitingForEvent => "waiting_for_event",
            Self::Blocked => "blocked",
            Self::WaitingForRetry => "waiting_for_retry",
            Self::Running => "running",
            Self::Ready => "ready",
            Self::Claimed => "claimed",
            Self::Forwarded => "forwarded",
            Self::Suspended => "suspended",
            Self::Escalated => "escalated",
            Self::EndedOk => "ended_ok",
            Self::EndedNotOk => "ended_not_ok",
            Self::EndedSkipped => "ended_skipped",
            Self::EndedInactive => "ended_inactive",
            Self::EndedTimeout => "ended_timeout",
            Self::Canceled => "canceled",
            Self::Terminated => "terminated",
            Self::Expired => "expired",
        }
    }
}

impl fmt::Display for TaskStatusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every end status a predecessor dependency may name (the seeds' names).
pub const END_STATUS_NAMES: &[&str] = &[
    "ended_ok",
    "ended_not_ok",
    "ended_skipped",
    "ended_inactive",
    "ended_timeout",
    "terminated",
    "expired",
    "canceled",
];
const OK_END_STATUS_NAMES: &[&str] = &["ended_ok", "ended_skipped", "ended_inactive"];

/// Which end statuses of a predecessor satisfy a dependency (Automic's Time & Dependencies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCondition {
    /// `ended_ok`, `ended_skipped` or `ended_inactive` (the default).
    AnyOk,
    /// Any end status that is not OK.
    AnyNotOk,
    /// Any end status at all.
    AnyEnd,
    /// Exactly these statuses.
    OneOf(Vec<String>),
}

impl StatusCondition {
    /// Parses `any_ok`, `any_not_ok`, `any_end` or an end status name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "any_ok" => Some(Self::AnyOk),
            "any_not_ok" => Some(Self::AnyNotOk),
            "any_end" | "any" => Some(Self::AnyEnd),
            s if END_STATUS_NAMES.contains(&s) => Some(Self::OneOf(vec![s.to_owned()])),
            _ => None,
        }
    }

    /// Does a predecessor that ended with `status` satisfy this condition?
    pub fn accepts(&self, status: &TaskStatus) -> bool {
        let name = status.name();
        match self {
            Self::AnyOk => OK_END_STATUS_NAMES.contains(&name),
            Self::AnyNotOk => status.is_end() && !OK_END_STATUS_NAMES.contains(&name),
            Self::AnyEnd => status.is_end(),
            Self::OneOf(names) => names.iter().any(|n| n == name),
        }
    }

    /// Does this condition expect a failure, so a failed predecessor counts as handled?
    pub fn expects_failure(&self) -> bool {
        match self {
            Self::AnyOk => false,
            Self::AnyNotOk | Self::AnyEnd => true,
            Self::OneOf(names) => names
                .iter()
                .any(|n| !OK_END_STATUS_NAMES.contains(&n.as_str())),
        }
    }
}

impl fmt::Display for StatusCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AnyOk => f.write_str("any_ok"),
            Self::AnyNotOk => f.write_str("any_not_ok"),
            Self::AnyEnd => f.write_str("any_end"),
            Self::OneOf(names) => f.write_str(&names.join(" or ")),
        }
    }
}

/// The status of a process instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    /// Work is under way (a job is out, or a step is due).
    Running,
    /// Nothing runs: tasks wait for their start time, a precondition or user input.
    Waiting,
    /// Nothing can go on until an operator acts on a blocked task.
    Blocked,
    /// Every task ended and no failure was left unhandled.
    Completed,
    /// Every task ended, but a task ended not OK and nothing downstream expected that.
    Failed,
    /// Stopped by an operator or by an `abort` else-action; open tasks were canceled.
    Aborted,
}

impl InstanceStatus {
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Blocked => "blocked",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
        }
    }

    /// Parses a name as printed by [`InstanceStatus::name`].
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Running,
            Self::Waiting,
            Self::Blocked,
            Self::Completed,
            Self::Failed,
            Self::Aborted,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// Completed, failed or aborted: no command changes the instance any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Aborted)
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which rule put a task (or instance) into its status; shown by `baton show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Reason {
    /// Waiting for these predecessors to reach an end status.
    PredecessorsPending { tasks: Vec<String> },
    /// The decision chose other branches.
    BranchNotTaken { decision: String },
    /// Every predecessor was skipped or led here by a branch not taken, so this path is dead.
    PredecessorsSkipped,
    /// A predecessor ended with a status the dependency does not accept; the else action applied.
    DependencyNotMet {
        task: String,
        status: String,
        expected: String,
        action: String,
    },
    /// The job's process exited with this code.
    Exited { code: i32 },
    /// The job was stopped after running longer than its timeout.
    TimedOut { after_ms: u64 },
    /// The job's process could not be started.
    CouldNotStart { message: String },
    /// An expression failed at run time.
    ExpressionFailed { field: String, message: String },
    /// A value does not have the type its data declaration says.
    TypeMismatch {
        variable: String,
        expected: String,
        found: String,
    },
    /// An expression or a command's output wrote a reference to a document that neither the
    /// instance nor what it mapped from refers to: references are copied, not made.
    DocumentNotReferenced { field: String, document: String },
    /// No branch of a decision matched and there was no `otherwise`.
    NoBranchMatched,
    /// An operator acted (`skip`, `retry`, `abort`).
    Operator { action: String, by: String },
    /// A terminating `end` task or an abort ended the instance before this task.
    InstanceEnded { status: String },
    /// The job was running when the engine stopped; it is run again.
    EngineRestarted,
    /// The external worker's lock on the job expired before it reported; it is offered again.
    LockExpired { worker: String },
    /// An external worker reported that the job failed.
    WorkerFailed { worker: String, message: String },
    /// An external worker ended the job with this status.
    EndedByWorker {
        worker: String,
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A breakpoint is set on the task (clear it to go on).
    Breakpoint,
    /// Today is not a day of the task's calendar(s).
    NotInCalendar { calendars: Vec<String>, day: String },
    /// A calendar the task names is not deployed.
    UnknownCalendar { calendar: String },
    /// The task's calendars cannot be evaluated (a reference to a missing calendar, a cycle).
    CalendarProblem { message: String },
    /// The task must not start before this time.
    EarliestStart {
        #[serde(with = "crate::timestamp")]
        at: DateTime<Utc>,
    },
    /// The task is deactivated (`active: false`).
    Inactive,
    /// An on-demand task that no action started.
    NotTriggered,
    /// Started by an action of another task.
    Triggered { by: String, via: String },
    /// A precondition did not hold; its else action applied.
    PreconditionNotMet { condition: String, action: String },
    /// The latest start passed before the task could start.
    LatestStartPassed {
        #[serde(with = "crate::timestamp")]
        latest_start: DateTime<Utc>,
    },
    /// Started now, the task would end after its latest end (now + expected runtime).
    WouldEndTooLate {
        #[serde(with = "crate::timestamp")]
        expected_end: DateTime<Utc>,
        #[serde(with = "crate::timestamp")]
        latest_end: DateTime<Utc>,
        expected_runtime_ms: u64,
    },
    /// Prompts that need a value.
    WaitingForInput { prompts: Vec<String> },
    /// The job ran longer than its maximum runtime; the action applied.
    MaxRuntimeExceeded { limit_ms: u64, action: String },
    /// The job ended sooner than its minimum runtime; the action applied.
    MinRuntimeNotMet {
        ran_ms: u64,
        limit_ms: u64,
        action: String,
    },
    /// A postcondition decided the status.
    Postcondition { condition: String, action: String },
    /// Some iterations of a ForEach task did not complete.
    IterationsFailed { failed: usize, total: usize },
    /// The ForEach `items` expression did not give a list.
    NotAList { found: String },
    /// The ForEach `items` list is longer than the engine's item limit.
    TooManyItems { count: usize, limit: usize },
    /// The snapshot a ForEach run starts its iterations from is not in the store.
    SnapshotMissing { attempt: u32 },
    /// A `user` task waits for one of these people to claim it.
    OfferedTo { owners: String },
    /// A `user` task's chain goes on in follow-on task `task`.
    ForwardedTo {
        task: HumanTaskId,
        title: String,
        status: String,
    },
    /// The owner of a `user` task (or of its chain's last task) failed it.
    HumanTaskFailed { by: String, reason: String },
    /// A `user` task's chain expired; its `on_expiry` action applied.
    ExpiredChain { action: String },
    /// A `user` task could not be created (no potential owners, a bad escalation, …).
    UserTaskRefused { message: String },
    /// Data past the data limits, from outside (a job's output) or from an expression (a `set`
    /// task's values, a user task's input or output mapping); it was not taken in.
    DataLimit { what: String, problem: String },
    /// The task was about to run more often than its run limit allows without an operator.
    RunLimit { limit: u32 },
    /// A decision's loop branch back to `to` went back `limit` times (`max_loops`).
    LoopLimit { to: String, limit: u32 },
    /// Decision `decision`'s loop branch returned the flow here: pass `pass` of at most `max`.
    LoopedBack {
        decision: String,
        pass: u32,
        max: u32,
    },
    /// A job attempt failed (`failure`); its retry policy runs retry `retry` of `max` at `at`.
    RetryPending {
        retry: u32,
        max: u32,
        #[serde(with = "crate::timestamp")]
        at: DateTime<Utc>,
        failure: String,
    },
    /// The job runs again: retry `retry` of `max` of its retry policy.
    Retry { retry: u32, max: u32 },
    /// The process a `call` or `handoff` task starts is not deployed (or not in that version).
    ProcessUnavailable { process: String, problem: String },
    /// The process a `call` or `handoff` task starts refused its start data.
    ChildRefused { process: String, problem: String },
    /// Starting the child would nest instances deeper than the engine's limit.
    TooDeep { depth: u32, limit: u32 },
    /// One step would start more child instances than the engine's limit.
    TooManyChildren { limit: usize },
    /// The child of a `call` task did not complete.
    ChildEnded {
        child: String,
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The inline part of a handed-off instance failed, so nothing was handed off.
    HandoffFailed { process: String, problem: String },
    /// The instance was aborted because its sub-process `child` was, which asked for it.
    ChildAborted { child: String, by: String },
    /// Every task ended, but these spawned sub-processes have not: the root waits for them.
    SpawnedOpen { children: Vec<String> },
    /// A `view` task shows its form to the user driving the interactive workflow and waits for
    /// their submission.
    ShowingView { title: String },
    /// The user driving the interactive workflow submitted the view.
    Submitted { by: String },
    /// The interactive workflow was deleted when it left its session's cache (it has no Auto
    /// Persist): why it left.
    Discarded { why: String },
    /// A `wait` task waits for event `event` (with correlation key `key`).
    WaitingForEvent {
        event: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// A `wait` task received the event it waited for: the one published with id `id`.
    EventReceived { event: String, id: String },
    /// A `wait` task's event did not come within its `timeout`.
    EventTimedOut { event: String, after_ms: u64 },
    /// A `wait` task's `key` expression gave no usable correlation key.
    BadCorrelationKey { problem: String },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PredecessorsPending { tasks } => write!(f, "waiting for {}", tasks.join(", ")),
            Self::BranchNotTaken { decision } => write!(f, "decision `{decision}` took another branch"),
            Self::PredecessorsSkipped => f.write_str("every predecessor was skipped"),
            Self::DependencyNotMet { task, status, expected, action } => {
                write!(f, "predecessor `{task}` is {status}, expected {expected}; else: {action}")
            }
            Self::Exited { code } => write!(f, "exit code {code}"),
            Self::TimedOut { after_ms } => write!(f, "timed out after {}", humantime::format_duration(std::time::Duration::from_millis(*after_ms))),
            Self::CouldNotStart { message } => write!(f, "could not start: {message}"),
            Self::ExpressionFailed { field, message } => write!(f, "expression in `{field}` failed: {message}"),
            Self::TypeMismatch { variable, expected, found } => write!(f, "`{variable}` must be {expected}, got {found}"),
            Self::DocumentNotReferenced { field, document } => write!(
                f,
                "`{field}` refers to document `{document}`, which this instance does not refer to: an expression or a command's output may copy the document references the instance holds, not make new ones (give the document as start data, a task's output or an input, which check that the user may read it)"
            ),
            Self::NoBranchMatched => f.write_str("no branch condition held and there is no `otherwise`"),
            Self::Operator { action, by } if action == "back" => write!(f, "sent back by {by}: runs again"),
            Self::Operator { action, by } => write!(f, "{action} by {by}"),
            Self::InstanceEnded { status } => write!(f, "instance {status}"),
            Self::EngineRestarted => f.write_str("the engine restarted while the job ran; running it again"),
            Self::LockExpired { worker } => write!(f, "the lock of worker `{worker}` expired before it reported; offering the job again"),
            Self::WorkerFailed { worker, message } => write!(f, "worker `{worker}` failed the job: {message}"),
            Self::EndedByWorker { worker, status, message: None } => write!(f, "worker `{worker}` ended the job {status}"),
            Self::EndedByWorker { worker, status, message: Some(message) } => write!(f, "worker `{worker}` ended the job {status}: {message}"),
            Self::Breakpoint => f.write_str("breakpoint (clear it to go on)"),
            Self::NotInCalendar { calendars, day } => write!(f, "{day} is not a day of calendar {}", calendars.join(" or ")),
            Self::UnknownCalendar { calendar } => write!(f, "calendar `{calendar}` is not deployed"),
            Self::CalendarProblem { message } => f.write_str(message),
            Self::EarliestStart { at } => write!(f, "earliest start {}", at.to_rfc3339()),
            Self::Inactive => f.write_str("deactivated (active: false)"),
            Self::NotTriggered => f.write_str("on demand: runs only when an action starts it"),
            Self::Triggered { by, via } => write!(f, "started by the {via} of `{by}`"),
            Self::PreconditionNotMet { condition, action } => write!(f, "precondition `{condition}` does not hold; else: {action}"),
            Self::LatestStartPassed { latest_start } => write!(f, "latest start {} has passed", latest_start.to_rfc3339()),
            Self::WouldEndTooLate { expected_end, latest_end, expected_runtime_ms } => write!(
                f,
                "would end about {} (expected runtime {}), after the latest end {}",
                expected_end.to_rfc3339(),
                humantime::format_duration(std::time::Duration::from_millis(*expected_runtime_ms)),
                latest_end.to_rfc3339()
            ),
            Self::WaitingForInput { prompts } => write!(f, "needs input: {}", prompts.join(", ")),
            Self::MaxRuntimeExceeded { limit_ms, action } => {
                write!(f, "ran longer than its maximum runtime {}; {action}", humantime::format_duration(std::time::Duration::from_millis(*limit_ms)))
            }
            Self::MinRuntimeNotMet { ran_ms, limit_ms, action } => write!(
                f,
                "ran {} ms, less than its minimum runtime {}; {action}",
                ran_ms,
                humantime::format_duration(std::time::Duration::from_millis(*limit_ms))
            ),
            Self::Postcondition { condition, action } => write!(f, "postcondition `{condition}`: {action}"),
            Self::IterationsFailed { failed, total } => write!(f, "{failed} of {total} iterations did not complete"),
            Self::NotAList { found } => write!(f, "`items` must give a list, got {found}"),
            Self::TooManyItems { count, limit } => write!(f, "`items` gave {count} items, more than the ForEach item limit of {limit}"),
            Self::SnapshotMissing { attempt } => write!(f, "the items of attempt {attempt} of this ForEach are missing from the store"),
            Self::OfferedTo { owners } => write!(f, "offered to {owners}"),
            Self::ForwardedTo { task, title, status } => write!(f, "forwarded to follow-on task {task} `{title}` ({status})"),
            Self::HumanTaskFailed { by, reason } => write!(f, "failed by {by}: {reason}"),
            Self::ExpiredChain { action } => write!(f, "expired; on_expiry: {action}"),
            Self::UserTaskRefused { message } => write!(f, "the human task could not be created: {message}"),
            Self::DataLimit { what, problem } => write!(f, "{what} {problem}; it was not taken in"),
            Self::RetryPending { retry, max, at, failure } => write!(f, "{failure}; retry {retry} of {max} at {}", at.to_rfc3339()),
            Self::Retry { retry, max } => write!(f, "retry {retry} of {max} after a failed attempt"),
            Self::ProcessUnavailable { process, problem } => write!(f, "process `{process}` cannot be started: {problem}"),
            Self::ChildRefused { process, problem } => write!(f, "process `{process}` refused the start data: {problem}"),
            Self::TooDeep { depth, limit } => write!(f, "the sub-process would be at depth {depth}, deeper than the limit of {limit}"),
            Self::TooManyChildren { limit } => write!(f, "the step would start more than {limit} child instances"),
            Self::ChildEnded { child, status, reason: None } => write!(f, "sub-process {child} {status}"),
            Self::ChildEnded { child, status, reason: Some(reason) } => write!(f, "sub-process {child} {status}: {reason}"),
            Self::HandoffFailed { process, problem } => write!(f, "nothing was handed off: the inline part of `{process}` failed: {problem}"),
            Self::ChildAborted { child, by } => write!(f, "sub-process {child} was aborted by {by}, which aborts its parent"),
            Self::WaitingForEvent { event, key: None } => write!(f, "waiting for event `{event}`"),
            Self::WaitingForEvent { event, key: Some(key) } => write!(f, "waiting for event `{event}` with key `{key}`"),
            Self::EventReceived { event, id } => write!(f, "event `{event}` received (id {id})"),
            Self::EventTimedOut { event, after_ms } => {
                write!(f, "event `{event}` did not come within {}", humantime::format_duration(std::time::Duration::from_millis(*after_ms)))
            }
            Self::BadCorrelationKey { problem } => write!(f, "no correlation key: {problem}"),
            Self::ShowingView { title } => write!(f, "showing view `{title}`: waiting for its user to submit it"),
            Self::Submitted { by } => write!(f, "submitted by {by}"),
            Self::Discarded { why } => write!(f, "deleted when it left its session's cache ({why}); it has no Auto Persist"),
            Self::SpawnedOpen { children } => write!(f, "waiting for spawned sub-process{} {}", if children.len() == 1 { "" } else { "es" }, children.join(", ")),
            Self::LoopLimit { to, limit } => write!(
                f,
                "its loop back to `{to}` went back {limit} times, its loop limit (`max_loops`); retry the incident or the decision to let it loop again, or skip it"
            ),
            Self::LoopedBack { decision, pass, max } => write!(f, "runs again: `{decision}` went back in its loop (pass {pass} of at most {max})"),
            Self::RunLimit { limit } => write!(
                f,
                "it ran {limit} times since an operator last acted on it, its run limit (`max_runs`); retry the incident or the task to let it run again, or skip it"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_ok_accepts_skipped_predecessors_as_automic_does() {
        assert!(StatusCondition::AnyOk.accepts(&TaskStatus::EndedSkipped));
        assert!(StatusCondition::AnyOk.accepts(&TaskStatus::EndedOk));
        assert!(!StatusCondition::AnyOk.accepts(&TaskStatus::EndedNotOk));
    }

    #[test]
    fn conditions_that_name_a_failure_status_expect_failure() {
        assert!(StatusCondition::parse("ended_not_ok")
            .unwrap()
            .expects_failure());
        assert!(!StatusCondition::parse("ended_ok")
            .unwrap()
            .expects_failure());
        assert!(StatusCondition::parse("nonsense").is_none());
    }

    #[test]
    fn no_condition_accepts_a_task_that_has_not_ended() {
        let running = TaskStatus::Running {
            attempt: 1,
            since: Utc::now(),
        };
        for c in [
            StatusCondition::AnyOk,
            StatusCondition::AnyNotOk,
            StatusCondition::AnyEnd,
        ] {
            assert!(!c.accepts(&running) && !c.accepts(&TaskStatus::WaitingForPredecessor));
        }
    }
}
