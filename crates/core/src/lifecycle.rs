//! The lifecycle of a task: the statuses a task of an instance can be in, the causes that move
//! it, and the one table of every (status, cause) → status edge.
//!
//! Every status change of a task goes through one function, `Machine::set_status`. It finds
//! the change's [`Cause`] from the new status and the reason it records ([`Cause::of`]: the
//! reason `baton show` prints says why the task is where it is) and looks the edge up in
//! [`TABLE`]. A change the table does not hold is a defect in the core, and it is refused by a
//! panic naming the task and the edge: it unwinds out of the whole step, whose new state is
//! dropped, and the engine, which computes every step apart from its commit and catches a
//! panic in the core, records the step as an incident (for a command it delivers: a job's end,
//! a timer) or refuses the command with the message (for a person's). Nothing is stored
//! either way. (A `TransitionError` would have to be returned from every rule that sets a
//! status, each of which has already changed the machine when it finds out; a panic leaves
//! nothing half-done behind.)
//!
//! Which statuses an operator may retry or skip are read from the table too ([`accepts`]).
//!
//! The table is written in rows: from any status of `from`, the cause leads to any status of
//! `to`, and each (from, cause, to) of a row is one edge. A test drives instances through every
//! edge of the table, and refuses a row with an edge no scenario takes. The README's "Task
//! lifecycle" section is [`markdown`]'s output, which a test checks.

use std::fmt;

use crate::status::{Reason, TaskStatus, TaskStatusKind};

/// Why a task's status changed: the rule that moved it. Found from the new status and its
/// reason by [`Cause::of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// Every path into the task is dead: a decision took another branch, or every
    /// predecessor was skipped for that reason.
    DeadPath,
    /// A breakpoint stops the task before its start pipeline.
    Breakpoint,
    /// Today is not a day of the task's calendars, or they cannot be read.
    Calendar,
    /// The task's earliest start time has not come.
    EarliestStart,
    /// The task is deactivated (`active: false`).
    Inactive,
    /// A precondition with `else: wait` does not hold yet.
    PreconditionPending,
    /// A precondition or a dependency does not hold: its else action (`skip`, `block`, `run`).
    ElseAction,
    /// The latest start passed, or the task would end after its latest end: `on_timeout`.
    LatestTime,
    /// A prompt needs a value.
    Prompt,
    /// The task ran as often as its run limit (`max_runs`) allows without an operator.
    RunLimit,
    /// The task's work was handed out: a job attempt to a worker, a ForEach's iterations.
    Dispatched,
    /// The task's human task changed: created, claimed, forwarded, suspended, escalated...
    HumanTask,
    /// A `wait` task subscribes to its event and waits for it.
    WaitForEvent,
    /// A `view` task shows its form to the user driving the interactive workflow.
    ShowView,
    /// The task's work ended OK (a job, an in-engine task, a ForEach, a human task).
    Completed,
    /// The task's work failed: a job's exit code, timeout or refused output, an expression, a
    /// human task failed or refused.
    Failed,
    /// A job attempt failed with retries left: it waits for its retry.
    RetryPending,
    /// An external worker ended the job with a status of its choice.
    EndedByWorker,
    /// The job ran past its maximum runtime: the limit's action.
    MaxRuntime,
    /// The job ended sooner than its minimum runtime: the limit's action.
    MinRuntime,
    /// A `wait` task's event did not come within its `timeout`.
    EventTimeout,
    /// A postcondition evaluated after the task ended: its action.
    Postcondition,
    /// An action of another task (or of its own) starts the task again.
    Triggered,
    /// The flow returned to an earlier task (a loop branch, a person's `task back`): the task
    /// runs again.
    Rework,
    /// An operator retries the task.
    Retry,
    /// An operator retried a predecessor this task was blocked by: it waits for it again.
    PredecessorRetried,
    /// An operator skips the task.
    Skip,
    /// An administrator terminates the task's human task chain.
    Terminate,
    /// The task's human task is deleted.
    Delete,
    /// The chain of the task's human task expired: `on_expiry`.
    Expired,
    /// The instance ended (aborted, deleted, or a terminating `end`) before the task did.
    InstanceEnded,
    /// An on-demand task that no action started ends with the instance.
    NotTriggered,
}

impl Cause {
    /// Every cause, in the order the README lists them.
    pub const ALL: [Self; 32] = [
        Self::DeadPath,
        Self::Breakpoint,
        Self::Calendar,
        Self::EarliestStart,
        Self::Inactive,
        Self::PreconditionPending,
        Self::ElseAction,
        Self::LatestTime,
        Self::Prompt,
        Self::RunLimit,
        Self::Dispatched,
        Self::HumanTask,
        Self::WaitForEvent,
        Self::ShowView,
        Self::Completed,
        Self::Failed,
        Self::RetryPending,
        Self::EndedByWorker,
        Self::MaxRuntime,
        Self::MinRuntime,
        Self::EventTimeout,
        Self::Postcondition,
        Self::Triggered,
        Self::Rework,
        Self::Retry,
        Self::PredecessorRetried,
        Self::Skip,
        Self::Terminate,
        Self::Delete,
        Self::Expired,
        Self::InstanceEnded,
        Self::NotTriggered,
    ];

    /// The cause's name in the README and in messages.
    pub fn name(self) -> &'static str {
        self.describe().0
    }

    /// What the cause is, in a sentence of the README.
    pub fn meaning(self) -> &'static str {
        self.describe().1
    }

    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Self::DeadPath => ("dead_path", "every path into the task is dead: a decision took another branch, or each predecessor was skipped for that reason"),
            Self::Breakpoint => ("breakpoint", "a breakpoint stops the task before its start pipeline"),
            Self::Calendar => ("calendar", "today is not a day of the task's calendars (`ended_inactive`), or they cannot be read (`ended_not_ok`)"),
            Self::EarliestStart => ("earliest_start", "the task's earliest start time has not come"),
            Self::Inactive => ("inactive", "the task is deactivated (`active: false`)"),
            Self::PreconditionPending => ("precondition_pending", "a precondition with `else: wait` does not hold yet"),
            Self::ElseAction => ("else_action", "a precondition or a dependency does not hold: its else action (`skip` and `{run: TASK}` skip the task, `block` blocks it)"),
            Self::LatestTime => ("latest_time", "the latest start passed, or the task would end after its latest end: `ended_timeout`, or `blocked` with `on_timeout: block`"),
            Self::Prompt => ("prompt", "a prompt needs a value"),
            Self::RunLimit => ("run_limit", "the task ran as often as its run limit (`max_runs`) allows since an operator last acted on it, or a decision's loop branch went back as often as its `max_loops` allows"),
            Self::Dispatched => ("dispatched", "the task's work is handed out: a job attempt to a worker (a first run, a retry, or again after its worker was lost), a ForEach's iterations, a `call`'s sub-process"),
            Self::HumanTask => ("human_task", "the task's human task is created, claimed, given back, forwarded, suspended, resumed, escalated or restarted"),
            Self::WaitForEvent => ("wait_for_event", "a `wait` task subscribes to its event (with its correlation key) and waits for it"),
            Self::ShowView => ("show_view", "a `view` task of an interactive workflow shows its form to the user driving it and waits for their submission"),
            Self::Completed => ("completed", "the task's work ended OK: a job, a `set`, `decision` or `end` task, a ForEach, a human task's chain, a `call`'s sub-process, a hand-off, a `wait` task's event"),
            Self::Failed => ("failed", "the task's work failed: a job's exit code, timeout or output, an expression, a ForEach's items or iterations, a human task failed or refused, a sub-process that did not complete or could not start, a `wait` task's key, condition or output mapping"),
            Self::RetryPending => ("retry_pending", "a job attempt failed with retries left in its policy: it waits for its retry"),
            Self::EndedByWorker => ("ended_by_worker", "an external worker ended the job with a status of its choice"),
            Self::MaxRuntime => ("max_runtime", "the job ran past its maximum runtime: `cancel` or `{end: STATUS}`"),
            Self::MinRuntime => ("min_runtime", "the job ended OK sooner than its minimum runtime: `{end: STATUS}` or `block`"),
            Self::EventTimeout => ("event_timeout", "a `wait` task's event did not come within its `timeout`"),
            Self::Postcondition => ("postcondition", "a postcondition after the task's end: `{end: STATUS}`, `block`, `restart`, or a condition that cannot be evaluated"),
            Self::Triggered => ("triggered", "a `{run: TASK}` action of another task (or of its own) starts the task"),
            Self::Rework => ("rework", "the flow returned to an earlier task (a decision's `back_to` loop, or `baton task back`): the task is in the range that runs again, and what it had under way is stopped"),
            Self::Retry => ("retry", "an operator retries the task"),
            Self::PredecessorRetried => ("predecessor_retried", "an operator retried a predecessor the task was blocked by: it waits for it again"),
            Self::Skip => ("skip", "an operator skips the task"),
            Self::Terminate => ("terminate", "an administrator terminates the chain of the task's human task"),
            Self::Delete => ("delete", "the task's human task is deleted"),
            Self::Expired => ("expired", "the chain of the task's human task expired: `on_expiry`"),
            Self::InstanceEnded => ("instance_ended", "the instance ended (aborted, deleted, or ended by a terminating `end`) before the task did"),
            Self::NotTriggered => ("not_triggered", "an on-demand task that no action started ends with the instance"),
        }
    }

    /// The cause of a change to status `to` recorded with `reason`; `None` for a reason no
    /// task status is set with.
    pub fn of(to: &TaskStatus, reason: Option<&Reason>) -> Option<Self> {
        use Reason as R;
        let Some(reason) = reason else {
            return match to {
                TaskStatus::Running { .. } => Some(Self::Dispatched),
                TaskStatus::EndedOk => Some(Self::Completed),
                TaskStatus::WaitingForPredecessor => Some(Self::PredecessorRetried),
                s if s.is_with_people() => Some(Self::HumanTask),
                _ => None,
            };
        };
        Some(match reason {
            R::BranchNotTaken { .. } | R::PredecessorsSkipped => Self::DeadPath,
            R::Breakpoint => Self::Breakpoint,
            R::NotInCalendar { .. } | R::UnknownCalendar { .. } | R::CalendarProblem { .. } => {
                Self::Calendar
            }
            R::EarliestStart { .. } => Self::EarliestStart,
            R::Inactive => Self::Inactive,
            R::PreconditionNotMet { .. }
                if matches!(to, TaskStatus::WaitingForPrecondition { .. }) =>
            {
                Self::PreconditionPending
            }
            R::PreconditionNotMet { .. } | R::DependencyNotMet { .. } => Self::ElseAction,
            R::LatestStartPassed { .. } | R::WouldEndTooLate { .. } => Self::LatestTime,
            R::WaitingForInput { .. } => Self::Prompt,
            R::RunLimit { .. } | R::LoopLimit { .. } => Self::RunLimit,
            R::LoopedBack { .. } => Self::Rework,
            R::WaitingForEvent { .. } => Self::WaitForEvent,
            R::ShowingView { .. } => Self::ShowView,
            R::Submitted { .. } => Self::Completed,
            R::EventReceived { .. } => Self::Completed,
            R::EventTimedOut { .. } => Self::EventTimeout,
            R::OfferedTo { .. } | R::ForwardedTo { .. } => Self::HumanTask,
            // A postcondition that cannot be evaluated ends the task: the postcondition's rule.
            R::ExpressionFailed { field, .. } if field.starts_with("postconditions") => {
                Self::Postcondition
            }
            R::Exited { .. }
            | R::TimedOut { .. }
            | R::CouldNotStart { .. }
            | R::WorkerFailed { .. }
            | R::ExpressionFailed { .. }
            | R::TypeMismatch { .. }
            | R::DocumentNotReferenced { .. }
            | R::NoBranchMatched
            | R::NotAList { .. }
            | R::TooManyItems { .. }
            | R::SnapshotMissing { .. }
            | R::IterationsFailed { .. }
            | R::HumanTaskFailed { .. }
            | R::UserTaskRefused { .. }
            | R::DataLimit { .. }
            | R::ProcessUnavailable { .. }
            | R::ChildRefused { .. }
            | R::TooDeep { .. }
            | R::TooManyChildren { .. }
            | R::ChildEnded { .. }
            | R::HandoffFailed { .. }
            | R::BadCorrelationKey { .. } => Self::Failed,
            R::RetryPending { .. } => Self::RetryPending,
            R::EndedByWorker { .. } => Self::EndedByWorker,
            R::MaxRuntimeExceeded { .. } => Self::MaxRuntime,
            R::MinRuntimeNotMet { .. } => Self::MinRuntime,
            R::Postcondition { .. } => Self::Postcondition,
            R::Triggered { .. } => Self::Triggered,
            R::Operator { action, .. } => match action.as_str() {
                "retry" => Self::Retry,
                "skip" => Self::Skip,
                "back" => Self::Rework,
                "terminate" => Self::Terminate,
                "delete" => Self::Delete,
                _ => return None,
            },
            R::ExpiredChain { .. } => Self::Expired,
            R::InstanceEnded { .. } => Self::InstanceEnded,
            R::NotTriggered => Self::NotTriggered,
            // Reasons of an instance, a history event or a task that waits, never of a change.
            R::PredecessorsPending { .. }
            | R::EngineRestarted
            | R::LockExpired { .. }
            | R::Retry { .. }
            | R::ChildAborted { .. }
            | R::SpawnedOpen { .. }
            | R::Discarded { .. } => return None,
        })
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One row of the table: from any status of `from`, `cause` leads to any status of `to`.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub cause: Cause,
    pub from: &'static [TaskStatusKind],
    pub to: &'static [TaskStatusKind],
}

/// One edge of the lifecycle: a task in status `from` goes to status `to` for `cause`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edge {
    pub from: TaskStatusKind,
    pub cause: Cause,
    pub to: TaskStatusKind,
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} --{}--> {}", self.from, self.cause, self.to)
    }
}

/// The task lifecycle: every edge a task's status may take.
pub const TABLE: &[Row] = {
    use TaskStatusKind::*;
    const fn row(
        cause: Cause,
        from: &'static [TaskStatusKind],
        to: &'static [TaskStatusKind],
    ) -> Row {
        Row { cause, from, to }
    }
    /// Where a task's start pipeline runs from: waiting for its predecessors, then on at the
    /// stage it waited at (a breakpoint cleared, its start time, a precondition, input).
    const STARTS: &[TaskStatusKind] = &[
        WaitingForPredecessor,
        Blocked,
        WaitingForStartTime,
        WaitingForPrecondition,
        WaitingForUserInput,
    ];
    /// Where the pipeline's checks before the prompts run from.
    const CHECKS: &[TaskStatusKind] = &[
        WaitingForPredecessor,
        Blocked,
        WaitingForStartTime,
        WaitingForPrecondition,
    ];
    /// A human task that has not ended.
    const PEOPLE: &[TaskStatusKind] = &[Ready, Claimed, Forwarded, Suspended, Escalated];
    /// Every status a task has not ended in: the first of `TaskStatusKind::ALL`.
    const OPEN: &[TaskStatusKind] = TaskStatusKind::ALL.split_at(TaskStatusKind::OPEN).0;
    &[
        // The start pipeline, stage by stage.
        row(Cause::DeadPath, &[WaitingForPredecessor], &[EndedSkipped]),
        row(Cause::Breakpoint, &[WaitingForPredecessor], &[Blocked]),
        row(
            Cause::Calendar,
            &[WaitingForPredecessor, Blocked],
            &[EndedInactive, EndedNotOk],
        ),
        row(
            Cause::EarliestStart,
            &[WaitingForPredecessor, Blocked],
            &[WaitingForStartTime],
        ),
        row(
            Cause::Inactive,
            &[WaitingForPredecessor, Blocked, WaitingForStartTime],
            &[EndedInactive],
        ),
        row(
            Cause::PreconditionPending,
            CHECKS,
            &[WaitingForPrecondition],
        ),
        row(Cause::ElseAction, CHECKS, &[EndedSkipped, Blocked]),
        row(Cause::LatestTime, CHECKS, &[EndedTimeout, Blocked]),
        row(Cause::Prompt, CHECKS, &[WaitingForUserInput]),
        // The start.
        // (Not from waiting_for_start_time: a task that ran once has passed its earliest start.)
        row(
            Cause::RunLimit,
            &[
                WaitingForPredecessor,
                Blocked,
                WaitingForPrecondition,
                WaitingForUserInput,
            ],
            &[Blocked],
        ),
        row(Cause::Dispatched, STARTS, &[Running]),
        row(Cause::HumanTask, STARTS, &[Ready]),
        row(Cause::Completed, STARTS, &[EndedOk]),
        row(Cause::Failed, STARTS, &[EndedNotOk]),
        row(Cause::WaitForEvent, STARTS, &[WaitingForEvent]),
        // A `view` task shows its form; its user's submission ends it (`completed`, above).
        row(Cause::ShowView, CHECKS, &[WaitingForUserInput]),
        // A `wait` task's event: received, refused by the task's expressions, or not in time.
        row(Cause::Completed, &[WaitingForEvent], &[EndedOk]),
        row(Cause::Failed, &[WaitingForEvent], &[EndedNotOk]),
        row(Cause::EventTimeout, &[WaitingForEvent], &[EndedTimeout]),
        // A job's attempts.
        row(Cause::Dispatched, &[WaitingForRetry, Running], &[Running]),
        row(Cause::Completed, &[Running], &[EndedOk]),
        row(Cause::Failed, &[Running, WaitingForRetry], &[EndedNotOk]),
        row(Cause::RetryPending, &[Running], &[WaitingForRetry]),
        row(
            Cause::EndedByWorker,
            &[Running],
            &[EndedOk, EndedNotOk, EndedSkipped],
        ),
        row(
            Cause::MaxRuntime,
            &[Running],
            &[Canceled, EndedOk, EndedNotOk],
        ),
        row(
            Cause::MinRuntime,
            &[Running],
            &[EndedOk, EndedNotOk, Blocked],
        ),
        // A human task, shown by the task it belongs to.
        row(Cause::HumanTask, &[Ready], &[Claimed, Escalated, Suspended]),
        row(
            Cause::HumanTask,
            &[Claimed],
            &[Ready, Forwarded, Suspended, Escalated],
        ),
        row(
            Cause::HumanTask,
            &[Forwarded],
            &[Forwarded, Suspended, Ready, Escalated],
        ),
        row(
            Cause::HumanTask,
            &[Suspended],
            &[Ready, Claimed, Forwarded, Escalated],
        ),
        row(
            Cause::HumanTask,
            &[Escalated],
            &[Escalated, Forwarded, Suspended],
        ),
        row(
            Cause::Completed,
            &[Claimed, Forwarded, Escalated],
            &[EndedOk],
        ),
        row(
            Cause::Failed,
            &[Claimed, Forwarded, Escalated],
            &[EndedNotOk],
        ),
        row(
            Cause::Expired,
            &[Ready, Claimed, Forwarded, Escalated],
            &[EndedOk, EndedNotOk, Expired],
        ),
        row(Cause::Terminate, PEOPLE, &[Terminated]),
        // The human task of a chain that ended stays until the task runs again; deleting it
        // marks the task terminated.
        row(
            Cause::Delete,
            &[
                Ready,
                Claimed,
                Forwarded,
                Suspended,
                Escalated,
                EndedOk,
                EndedNotOk,
                EndedSkipped,
                Terminated,
                Expired,
            ],
            &[Terminated],
        ),
        // After the end.
        row(
            Cause::Postcondition,
            &[EndedOk, EndedNotOk, EndedTimeout, EndedSkipped],
            &[EndedOk, EndedNotOk, Blocked, WaitingForPredecessor],
        ),
        row(
            Cause::Triggered,
            &[
                WaitingForPredecessor,
                EndedOk,
                EndedNotOk,
                EndedSkipped,
                EndedInactive,
                EndedTimeout,
                Canceled,
                Terminated,
                Expired,
            ],
            &[WaitingForPredecessor],
        ),
        // The flow returns to an earlier task: it and the tasks after it wait again.
        row(
            Cause::Rework,
            &[
                Blocked,
                WaitingForStartTime,
                WaitingForPrecondition,
                WaitingForUserInput,
                WaitingForEvent,
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
            ],
            &[WaitingForPredecessor],
        ),
        // Operators, and the instance's end.
        row(
            Cause::Retry,
            &[
                Blocked,
                EndedNotOk,
                EndedSkipped,
                EndedInactive,
                EndedTimeout,
                Canceled,
                Terminated,
                Expired,
            ],
            &[WaitingForPredecessor],
        ),
        row(
            Cause::PredecessorRetried,
            &[Blocked],
            &[WaitingForPredecessor],
        ),
        row(
            Cause::Skip,
            &[
                WaitingForPredecessor,
                WaitingForStartTime,
                WaitingForPrecondition,
                WaitingForUserInput,
                WaitingForEvent,
                Blocked,
                WaitingForRetry,
                Ready,
                Claimed,
                Forwarded,
                Suspended,
                Escalated,
            ],
            &[EndedSkipped],
        ),
        row(Cause::InstanceEnded, OPEN, &[Canceled]),
        row(
            Cause::NotTriggered,
            &[WaitingForPredecessor],
            &[EndedInactive],
        ),
    ]
};

const STATUSES: usize = TaskStatusKind::ALL.len();
const CAUSES: usize = Cause::ALL.len();

/// The table as bits: `to` is allowed from `from` for `cause` when bit `to` of
/// `ALLOWED[from][cause]` is set. Built once, at compile time.
static ALLOWED: [[u32; CAUSES]; STATUSES] = {
    let mut allowed = [[0u32; CAUSES]; STATUSES];
    let mut r = 0;
    while r < TABLE.len() {
        let row = &TABLE[r];
        let mut f = 0;
        while f < row.from.len() {
            let mut t = 0;
            while t < row.to.len() {
                allowed[row.from[f] as usize][row.cause as usize] |= 1 << row.to[t] as u32;
                t += 1;
            }
            f += 1;
        }
        r += 1;
    }
    allowed
};

/// Does the table hold the edge `from` → `to` for `cause`?
pub fn allows(from: TaskStatusKind, cause: Cause, to: TaskStatusKind) -> bool {
    ALLOWED[from as usize][cause as usize] & (1 << to as u32) != 0
}

/// Does `cause` lead anywhere from `from` (may an operator retry a task in `from`, say)?
pub fn accepts(from: TaskStatusKind, cause: Cause) -> bool {
    ALLOWED[from as usize][cause as usize] != 0
}

/// Every edge of the table, row by row.
pub fn edges() -> impl Iterator<Item = Edge> {
    TABLE.iter().flat_map(|row| {
        row.from.iter().flat_map(move |&from| {
            row.to.iter().map(move |&to| Edge {
                from,
                cause: row.cause,
                to,
            })
        })
    })
}

/// A status change the table does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotInTable {
    #[error("no lifecycle cause sets {to} with the reason {reason}")]
    NoCause { to: TaskStatusKind, reason: String },
    #[error("the task lifecycle has no edge {0}")]
    NoEdge(Edge),
}

/// The edge a change from status `from` to status `to`, recorded with `reason`, takes.
pub fn edge(
    from: &TaskStatus,
    to: &TaskStatus,
    reason: Option<&Reason>,
) -> Result<Edge, NotInTable> {
    let Some(cause) = Cause::of(to, reason) else {
        return Err(NotInTable::NoCause {
            to: to.kind(),
            reason: reason.map_or_else(|| "(none)".to_owned(), |r| format!("{r:?}")),
        });
    };
    let edge = Edge {
        from: from.kind(),
        cause,
        to: to.kind(),
    };
    if allows(edge.from, edge.cause, edge.to) {
        Ok(edge)
    } else {
        Err(NotInTable::NoEdge(edge))
    }
}

/// What a status means, for the README.
pub fn status_meaning(status: TaskStatusKind) -> &'static str {
    use TaskStatusKind::*;
    match status {
        WaitingForPredecessor => "waits until all its direct predecessors reached an end status (and an on-demand task until an action starts it)",
        WaitingForStartTime => "waits for its earliest start time, on a durable timer",
        WaitingForPrecondition => "a precondition with `else: wait` does not hold; checked again on a durable timer",
        WaitingForUserInput => "a prompt needs a value (`baton task input`), or a view waits for its user's submission (`baton session submit`)",
        WaitingForEvent => "a `wait` task waits for its event (`baton event publish`)",
        Blocked => "stopped until an operator acts: a breakpoint, an else action or limit that blocks, the run limit",
        WaitingForRetry => "a job attempt failed; its retry policy runs it again on a durable timer",
        Running => "a job is out with a worker, or a ForEach's iterations run",
        Ready => "a human task offered to its potential owners",
        Claimed => "a human task claimed by one of them",
        Forwarded => "a human task whose owner started a follow-on task: the chain goes on there",
        Suspended => "a human task whose chain is suspended",
        Escalated => "a human task that escalated",
        EndedOk => "ended OK",
        EndedNotOk => "ended not OK",
        EndedSkipped => "skipped (a dead path, an else action, an operator, a worker)",
        EndedInactive => "did not run: not a day of its calendar, `active: false`, or an on-demand task nothing started",
        EndedTimeout => "did not run: its latest start passed, or it would have ended after its latest end; or a `wait` task's event did not come in time",
        Canceled => "the instance ended before the task, or its maximum runtime canceled the job",
        Terminated => "its human task's chain was terminated or deleted",
        Expired => "its human task's chain expired",
    }
}

/// The "Task lifecycle" section of the README: the statuses, the causes and the table.
pub fn markdown() -> String {
    use std::fmt::Write as _;
    let names = |list: &[TaskStatusKind]| {
        list.iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::from(
        "Every status change of a task follows one table (`crates/core/src/lifecycle.rs`). A change\n\
         that is not in it is a defect: the step is not stored, and it becomes an\n\
         [incident](#incidents) (a person's command is refused with the reason). From a status in\n\
         the first column, a cause leads to a status in the last; the reason `baton show` prints\n\
         says which cause it was. This section is generated from the table, and a test keeps the\n\
         two the same.\n\n",
    );
    out.push_str("| status | meaning |\n|---|---|\n");
    for status in TaskStatusKind::ALL {
        let _ = writeln!(out, "| `{status}` | {} |", status_meaning(status));
    }
    out.push_str("\n| cause | meaning |\n|---|---|\n");
    for cause in Cause::ALL {
        let _ = writeln!(out, "| `{cause}` | {} |", cause.meaning());
    }
    out.push_str("\n| from | cause | to |\n|---|---|---|\n");
    for row in TABLE {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} |",
            names(row.from),
            row.cause,
            names(row.to)
        );
    }
    let retry: Vec<TaskStatusKind> = TaskStatusKind::ALL
        .into_iter()
        .filter(|&s| accepts(s, Cause::Retry))
        .collect();
    let skip: Vec<TaskStatusKind> = TaskStatusKind::ALL
        .into_iter()
        .filter(|&s| accepts(s, Cause::Skip))
        .collect();
    let _ = write!(
        out,
        "\nSo an operator may retry (`baton task retry`) a task that is {}, and skip (`baton task skip`)\n\
         one that is {}; a retry or a skip of a task in another status is refused and changes nothing.\n",
        names(&retry),
        names(&skip)
    );
    out
}
