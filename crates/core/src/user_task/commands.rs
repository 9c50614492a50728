//! Operations on a user task, the history events and effects a transition produces, and why
//! an operation is refused.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    EscalationAction, FollowOnSpec, HumanTaskId, HumanTaskRole, HumanTaskStatus, Outcome,
    SubtaskSpec, TimerRequest, UserTask,
};
use crate::people::PotentialOwners;

/// An operation on one of the tasks. Each is applied for an [`Actor`](super::Actor) and authorized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum UserTaskCommand {
    /// A potential owner (or an administrator) takes a ready task.
    Claim { task: HumanTaskId },
    /// The owner gives a claimed task back (`ready`).
    CancelClaim { task: HumanTaskId },
    /// The owner ends the task `ended_ok` with output that fits the form.
    Complete {
        task: HumanTaskId,
        output: Map<String, Value>,
    },
    /// The owner ends the task `ended_not_ok`.
    Fail { task: HumanTaskId, reason: String },
    /// The owner of a claimed task creates a subtask for someone else.
    CreateSubtask {
        parent: HumanTaskId,
        spec: SubtaskSpec,
    },
    /// The owner of a claimed task starts a follow-on task; the task becomes `forwarded`.
    StartFollowOn {
        task: HumanTaskId,
        spec: FollowOnSpec,
    },
    /// Suspends the whole chain of `task`.
    Suspend { task: HumanTaskId },
    /// Resumes the whole chain of `task`.
    Resume { task: HumanTaskId },
    /// An administrator escalates `task` (and so every follow-on after it) by hand.
    Escalate {
        task: HumanTaskId,
        name: String,
        action: EscalationAction,
    },
    /// An administrator (or the engine) terminates the whole chain of `task`.
    Terminate { task: HumanTaskId },
    /// Deletes a first task with its follow-ons and subtasks (the original: the whole user task).
    Delete { task: HumanTaskId },
    /// Starts a first task over: its follow-ons and subtasks are deleted, it is `ready` again.
    Restart { task: HumanTaskId },
    /// The engine reports that the timer `key` came due.
    FireTimer { key: String },
}

/// One entry of the history of a user task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserTaskEvent {
    #[serde(with = "crate::timestamp")]
    pub at: DateTime<Utc>,
    pub task: HumanTaskId,
    pub by: String,
    #[serde(flatten)]
    pub kind: UserTaskEventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum UserTaskEventKind {
    Created {
        #[serde(flatten)]
        role: HumanTaskRole,
        title: String,
        potential_owners: PotentialOwners,
    },
    StatusChanged {
        to: HumanTaskStatus,
    },
    /// The task escalated (`origin` is itself), or a task before it in the chain did.
    Escalated {
        name: String,
        origin: HumanTaskId,
    },
    PriorityChanged {
        to: i32,
    },
    Reassigned {
        to: PotentialOwners,
    },
    /// A subtask chain of this task ended.
    SubtaskEnded {
        subtask: HumanTaskId,
        status: String,
    },
}

/// What a driver must do after persisting a transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum UserTaskEffect {
    /// Set a durable timer.
    SetTimer(TimerRequest),
    /// Remove a timer set earlier (it must not fire).
    ClearTimer { key: String },
    /// Tell these people that `task` escalated.
    Notify {
        task: HumanTaskId,
        escalation: String,
        to: PotentialOwners,
    },
    /// The original chain ended: the process task ends with this status and output.
    Ended(Outcome),
    /// The user task was deleted: drop it from inboxes.
    Deleted,
}

/// The result of [`create`](super::create) or [`apply`](super::apply).
#[derive(Debug, Clone, PartialEq)]
pub struct UserTaskTransition {
    pub state: UserTask,
    pub events: Vec<UserTaskEvent>,
    pub effects: Vec<UserTaskEffect>,
    /// Tasks this transition created (a follow-on, a subtask, or the original).
    pub created: Vec<HumanTaskId>,
}

/// Why an operation was refused. A refused operation changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserTaskError {
    #[error("there is no task {0} in this user task")]
    UnknownTask(HumanTaskId),
    #[error("task {0} was deleted")]
    TaskDeleted(HumanTaskId),
    #[error("user task `{0}` was deleted; it takes no more operations")]
    UserTaskDeleted(String),
    #[error("`{user}` may not claim task {task}: they are not one of its potential owners")]
    NotPotentialOwner { task: HumanTaskId, user: String },
    #[error("`{user}` may not {action} task {task}: only its owner `{owner}` may")]
    NotOwner {
        task: HumanTaskId,
        user: String,
        action: &'static str,
        owner: String,
    },
    #[error("`{user}` may not {action} task {task}: only an administrator may")]
    NotAdministrator {
        task: HumanTaskId,
        user: String,
        action: &'static str,
    },
    #[error("`{user}` may not {action} task {task}: only an administrator, its owner or the originator of a task in its chain may")]
    NotInvolved {
        task: HumanTaskId,
        user: String,
        action: &'static str,
    },
    #[error("only the engine may {action}")]
    EngineOnly { action: &'static str },
    #[error("`{action}` must name the acting user")]
    UserOnly { action: &'static str },
    #[error("task {task} is not claimed; claim it before you {action} it")]
    NotClaimed {
        task: HumanTaskId,
        action: &'static str,
    },
    #[error("task {task} is already claimed by `{by}`")]
    AlreadyClaimed { task: HumanTaskId, by: String },
    #[error("task {task} was forwarded to follow-on task {to} and its work ended; {action} task {to} instead")]
    Forwarded {
        task: HumanTaskId,
        to: HumanTaskId,
        action: &'static str,
    },
    #[error("task {task} is suspended with its chain; resume it before you {action} it")]
    Suspended {
        task: HumanTaskId,
        action: &'static str,
    },
    #[error("task {task} is already suspended")]
    AlreadySuspended { task: HumanTaskId },
    #[error("task {task} is not suspended")]
    NotSuspended { task: HumanTaskId },
    #[error("task {task} has ended ({status}); it takes no more lifecycle operations")]
    ChainEnded {
        task: HumanTaskId,
        status: &'static str,
    },
    #[error("task {task} has open subtasks ({}); they must end first", join_ids(.subtasks))]
    OpenSubtasks {
        task: HumanTaskId,
        subtasks: Vec<HumanTaskId>,
    },
    #[error("the output of task {task} does not fit its form: {}", .problems.join("; "))]
    InvalidOutput {
        task: HumanTaskId,
        problems: Vec<String>,
    },
    #[error("task `{title}` needs at least one potential owner (a user or a group)")]
    NoPotentialOwners { title: String },
    #[error(
        "escalation `{escalation}` must name at least one user or group to notify or reassign to"
    )]
    EscalationNamesNobody { escalation: String },
    /// A duration past [`crate::duration::MAX_DURATION`] (`what` says which).
    #[error("{what} {}", crate::duration::DurationError::TooLong)]
    DurationTooLong { what: String },
    #[error("invalid potential owners: {0}")]
    InvalidPotentialOwners(String),
    #[error(
        "`{action}` is not supported on follow-on task {task} on its own: a chain of follow-on tasks acts as one task; \
         {action} its first task {head} instead, which deletes its follow-ons with it"
    )]
    FollowOnAlone {
        task: HumanTaskId,
        head: HumanTaskId,
        action: &'static str,
    },
    #[error("timer `{0}` is not pending (it was cleared, paused or already fired)")]
    StaleTimer(String),
}

fn join_ids(ids: &[HumanTaskId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
