//! Task and instance statuses, named as the seeds name them (Automic's `ended_ok`,
//! `ended_not_ok`, `ended_skipped`, …), and the reasons that put a task in its status.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a task is in its lifecycle. Data-carrying so a status says what it needs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TaskStatus {
    /// Automic: "A task always waits until all its direct predecessors have reached the expected status".
    WaitingForPredecessor,
    /// The workflow stopped at this task; an operator must act (skip it, or retry a predecessor).
    Blocked,
    /// A job is out with a worker; `attempt` counts re-runs after a crash or an operator retry.
    Running { attempt: u32, since: DateTime<Utc> },
    EndedOk,
    EndedNotOk,
    EndedSkipped,
    /// The instance ended (aborted, or a terminating end) before this task could.
    Canceled,
}

impl TaskStatus {
    /// The name users see, as in the seeds.
    pub fn name(&self) -> &'static str {
        match self {
            Self::WaitingForPredecessor => "waiting_for_predecessor",
            Self::Blocked => "blocked",
            Self::Running { .. } => "running",
            Self::EndedOk => "ended_ok",
            Self::EndedNotOk => "ended_not_ok",
            Self::EndedSkipped => "ended_skipped",
            Self::Canceled => "canceled",
        }
    }

    /// Has the task reached an end status (Automic's "Skipped or Ended")?
    pub fn is_end(&self) -> bool {
        matches!(self, Self::EndedOk | Self::EndedNotOk | Self::EndedSkipped | Self::Canceled)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every end status a predecessor dependency may name (the seeds' names).
pub const END_STATUS_NAMES: &[&str] =
    &["ended_ok", "ended_not_ok", "ended_skipped", "ended_inactive", "ended_timeout", "terminated", "expired", "canceled"];
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
            Self::OneOf(names) => names.iter().any(|n| !OK_END_STATUS_NAMES.contains(&n.as_str())),
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
            Self::Blocked => "blocked",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
        }
    }

    /// Parses a name as printed by [`InstanceStatus::name`].
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Running, Self::Blocked, Self::Completed, Self::Failed, Self::Aborted].into_iter().find(|s| s.name() == name)
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
    DependencyNotMet { task: String, status: String, expected: String, action: String },
    /// The job's process exited with this code.
    Exited { code: i32 },
    /// The job was stopped after running longer than its timeout.
    TimedOut { after_ms: u64 },
    /// The job's process could not be started.
    CouldNotStart { message: String },
    /// An expression failed at run time.
    ExpressionFailed { field: String, message: String },
    /// A value does not have the type its data declaration says.
    TypeMismatch { variable: String, expected: String, found: String },
    /// No branch of a decision matched and there was no `otherwise`.
    NoBranchMatched,
    /// An operator acted (`skip`, `retry`, `abort`).
    Operator { action: String, by: String },
    /// A terminating `end` task or an abort ended the instance before this task.
    InstanceEnded { status: String },
    /// The job was running when the engine stopped; it is run again.
    EngineRestarted,
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
            Self::NoBranchMatched => f.write_str("no branch condition held and there is no `otherwise`"),
            Self::Operator { action, by } => write!(f, "{action} by {by}"),
            Self::InstanceEnded { status } => write!(f, "instance {status}"),
            Self::EngineRestarted => f.write_str("the engine restarted while the job ran; running it again"),
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
        assert!(StatusCondition::parse("ended_not_ok").unwrap().expects_failure());
        assert!(!StatusCondition::parse("ended_ok").unwrap().expects_failure());
        assert!(StatusCondition::parse("nonsense").is_none());
    }

    #[test]
    fn no_condition_accepts_a_task_that_has_not_ended() {
        let running = TaskStatus::Running { attempt: 1, since: Utc::now() };
        for c in [StatusCondition::AnyOk, StatusCondition::AnyNotOk, StatusCondition::AnyEnd] {
            assert!(!c.accepts(&running) && !c.accepts(&TaskStatus::WaitingForPredecessor));
        }
    }
}
