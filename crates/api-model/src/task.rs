//! One task of a process instance: its status with what the status names (who claimed it,
//! until when it waits), the rule that put it there, its attempts and times.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::reason::Reason;

/// Where a task is in its lifecycle (the seeds' names: Automic's for every task, IBM's for
/// `user` tasks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waits until its predecessors have ended.
    WaitingForPredecessor,
    /// Waits for its earliest start time (`waiting_until`).
    WaitingForStartTime,
    /// A precondition does not hold yet; checked again at `waiting_until`.
    WaitingForPrecondition,
    /// Its prompts need values (`baton task input`).
    WaitingForUserInput,
    /// A `wait` task waits for event `event` with correlation key `correlation_key` (since `status_since`).
    WaitingForEvent,
    /// Stopped at a breakpoint or by an else action `block`; an operator must act.
    Blocked,
    /// A failed job attempt waits for its retry policy to run it again at `waiting_until`.
    WaitingForRetry,
    /// A job is out with a worker (since `status_since`).
    Running,
    /// A `user` task offered to its potential owners.
    Ready,
    /// A `user` task claimed by `claimed_by`.
    Claimed,
    /// A `user` task whose chain goes on in follow-on human task `forwarded_to`.
    Forwarded,
    /// A `user` task whose chain is suspended (by `suspended_by`).
    Suspended,
    /// A `user` task that escalated (`escalation` is the latest).
    Escalated,
    /// Ended OK (a job exited 0, a human task was completed, …).
    EndedOk,
    /// Ended not OK (a job failed, a human task was failed, …).
    EndedNotOk,
    /// Skipped: by an operator, a branch not taken or an else action `skip`.
    EndedSkipped,
    /// Not run: not a day of its calendar, `active: false`, or on demand and never started.
    EndedInactive,
    /// Not run: its latest start passed, or it would have ended after its latest end.
    EndedTimeout,
    /// The instance ended before the task could.
    Canceled,
    /// A `user` task whose chain was terminated.
    Terminated,
    /// A `user` task whose chain expired.
    Expired,
}

impl TaskStatus {
    /// Has the task ended (it will not change again unless an operator acts)?
    pub fn is_ended(self) -> bool {
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
}

/// A task's status with what the status names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskState {
    /// The status.
    pub status: TaskStatus,
    /// The job attempt that is out (`running`); else `null`.
    pub attempt: Option<u32>,
    /// Since when it is `running`, `claimed` or `suspended`; else `null`.
    pub status_since: Option<DateTime<Utc>>,
    /// Until when it is `waiting_for_start_time` or `waiting_for_retry`, or when a
    /// `waiting_for_precondition` task is checked again; else `null`.
    pub waiting_until: Option<DateTime<Utc>>,
    /// Who claimed it (`claimed`, or `escalated` while claimed); else `null`.
    pub claimed_by: Option<String>,
    /// Who suspended it (`suspended`); else `null`.
    pub suspended_by: Option<String>,
    /// The number of the human task its chain goes on in (`forwarded`); else `null`.
    pub forwarded_to: Option<u32>,
    /// The name of its latest escalation (`escalated`); else `null`.
    pub escalation: Option<String>,
    /// The event it waits for (`waiting_for_event`); else `null`.
    pub event: Option<String>,
    /// The correlation key it waits with (`waiting_for_event` with a key); else `null`.
    pub correlation_key: Option<String>,
}

/// One task of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    /// The task's kind in the definition: `job`, `set`, `decision`, `foreach`, `user`, `call`,
    /// `handoff`, `wait` or `end`.
    pub kind: String,
    /// Its status and what the status names.
    #[serde(flatten)]
    pub state: TaskState,
    /// The rule that put the task in its status; `null` when none applies.
    pub reason: Option<Reason>,
    /// How many times the task was started (a retry or a re-run after a crash adds one).
    pub attempts: u32,
    /// When its current run started; `null` before it ran.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended; `null` while it has not.
    pub ended_at: Option<DateTime<Utc>>,
    /// For a `call` or `handoff` task: the child instance it started (the latest); else `null`.
    pub child: Option<String>,
}
