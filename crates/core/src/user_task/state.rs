//! The state of a user task: its human tasks (the original, follow-ons, subtasks), their
//! statuses, pending timers and the outcome the process gets.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{duration_text, is_zero, EscalationAction, EscalationSpec, FormField, SubtaskPolicy};
use crate::people::PotentialOwners;

/// Identifies one human task within a [`UserTask`]: the original is `#0`, later tasks are
/// numbered in the order they were created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HumanTaskId(pub u32);

impl HumanTaskId {
    pub const ORIGINAL: Self = Self(0);

    pub(super) fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for HumanTaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// How a task hangs off the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum HumanTaskRole {
    /// The task the process created.
    Original,
    /// Started by the owner of `predecessor`, which became `forwarded`.
    FollowOn { predecessor: HumanTaskId },
    /// Created by the owner of `parent`.
    Subtask { parent: HumanTaskId },
}

/// Where one human task is in its lifecycle (the seeds' names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum HumanTaskStatus {
    /// Offered to its potential owners.
    Ready,
    Claimed {
        by: String,
        #[serde(with = "crate::timestamp")]
        since: DateTime<Utc>,
    },
    /// A follow-on task was started; this task's work ended and the chain goes on in `to`.
    Forwarded {
        to: HumanTaskId,
        #[serde(with = "crate::timestamp")]
        at: DateTime<Utc>,
    },
    /// The chain is suspended; `was` is the status the task resumes to.
    Suspended {
        was: Box<HumanTaskStatus>,
        #[serde(with = "crate::timestamp")]
        since: DateTime<Utc>,
        by: String,
    },
    EndedOk {
        by: String,
        #[serde(with = "crate::timestamp")]
        at: DateTime<Utc>,
    },
    EndedNotOk {
        by: String,
        reason: String,
        #[serde(with = "crate::timestamp")]
        at: DateTime<Utc>,
    },
    Expired {
        #[serde(with = "crate::timestamp")]
        at: DateTime<Utc>,
    },
    Terminated {
        by: String,
        #[serde(with = "crate::timestamp")]
        at: DateTime<Utc>,
    },
    Deleted {
        by: String,
        #[serde(with = "crate::timestamp")]
        at: DateTime<Utc>,
    },
}

impl HumanTaskStatus {
    /// The name users see.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Claimed { .. } => "claimed",
            Self::Forwarded { .. } => "forwarded",
            Self::Suspended { .. } => "suspended",
            Self::EndedOk { .. } => "ended_ok",
            Self::EndedNotOk { .. } => "ended_not_ok",
            Self::Expired { .. } => "expired",
            Self::Terminated { .. } => "terminated",
            Self::Deleted { .. } => "deleted",
        }
    }

    /// The status under the `suspended` substate (the status itself when not suspended).
    pub fn base(&self) -> &Self {
        match self {
            Self::Suspended { was, .. } => was.base(),
            other => other,
        }
    }

    pub fn is_suspended(&self) -> bool {
        matches!(self, Self::Suspended { .. })
    }

    /// Ready or claimed (suspended or not): the task whose work the chain waits for.
    pub fn is_live(&self) -> bool {
        matches!(self.base(), Self::Ready | Self::Claimed { .. })
    }

    /// Has the task ended for good? (`forwarded` has not: the chain goes on.)
    pub fn is_end(&self) -> bool {
        matches!(
            self.base(),
            Self::EndedOk { .. }
                | Self::EndedNotOk { .. }
                | Self::Expired { .. }
                | Self::Terminated { .. }
                | Self::Deleted { .. }
        )
    }

    /// The owner of a claimed task.
    pub fn claimed_by(&self) -> Option<&str> {
        match self.base() {
            Self::Claimed { by, .. } => Some(by),
            _ => None,
        }
    }
}

impl fmt::Display for HumanTaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A note passed along a chain of follow-on tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub by: String,
    #[serde(with = "crate::timestamp")]
    pub at: DateTime<Utc>,
    pub text: String,
}

/// One entry of a task's escalation history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRecord {
    pub name: String,
    #[serde(with = "crate::timestamp")]
    pub at: DateTime<Utc>,
    /// The task that escalated; a follow-on escalated because its predecessor did names the predecessor.
    pub origin: HumanTaskId,
    #[serde(flatten)]
    pub action: EscalationAction,
}

/// One human task: the original, a follow-on or a subtask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HumanTask {
    pub id: HumanTaskId,
    #[serde(flatten)]
    pub role: HumanTaskRole,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub input: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    pub potential_owners: PotentialOwners,
    #[serde(default, skip_serializing_if = "PotentialOwners::is_empty")]
    pub administrators: PotentialOwners,
    /// Who created the task: the process starter for the original, the predecessor's or parent's owner otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originator: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "crate::timestamp::option")]
    pub due: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_fields: Vec<FormField>,
    pub status: HumanTaskStatus,
    /// The follow-on task this one was forwarded to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_on: Option<HumanTaskId>,
    /// The first tasks of this task's subtask chains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtasks: Vec<HumanTaskId>,
    /// Only the first task of a chain has one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration_text::option"
    )]
    pub expires_after: Option<Duration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalation_specs: Vec<EscalationSpec>,
    /// The escalation history; the task shows `escalated` when it is not empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalations: Vec<EscalationRecord>,
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

impl HumanTask {
    pub fn is_escalated(&self) -> bool {
        !self.escalations.is_empty()
    }

    pub fn is_follow_on(&self) -> bool {
        matches!(self.role, HumanTaskRole::FollowOn { .. })
    }
}

/// What a pending timer fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fires", rename_all = "snake_case")]
pub enum TimerFires {
    /// The expiration of the chain that starts with `task`.
    Expire { task: HumanTaskId },
    /// Escalation number `escalation` of `task`.
    Escalate {
        task: HumanTaskId,
        escalation: usize,
    },
}

impl TimerFires {
    pub fn task(&self) -> HumanTaskId {
        match self {
            Self::Expire { task } | Self::Escalate { task, .. } => *task,
        }
    }
}

/// A durable timer the driver must set: at `due`, apply [`UserTaskCommand::FireTimer`](super::UserTaskCommand::FireTimer) with `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerRequest {
    /// Unique within the process instance, never reused.
    pub key: String,
    #[serde(with = "crate::timestamp")]
    pub due: DateTime<Utc>,
    #[serde(flatten)]
    pub fires: TimerFires,
}

/// A timer runs, or is paused while its chain is suspended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TimerState {
    Scheduled {
        #[serde(with = "crate::timestamp")]
        due: DateTime<Utc>,
    },
    Paused {
        #[serde(with = "duration_text")]
        remaining: Duration,
    },
}

/// A timer the state machine is waiting for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTimer {
    pub key: String,
    #[serde(flatten)]
    pub fires: TimerFires,
    #[serde(flatten)]
    pub state: TimerState,
}

/// How the chain of the original task ended: what the process gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    EndedOk,
    EndedNotOk,
    Expired,
    Terminated,
}

impl OutcomeStatus {
    /// The end status of the process task, as the seeds name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::EndedOk => "ended_ok",
            Self::EndedNotOk => "ended_not_ok",
            Self::Expired => "expired",
            Self::Terminated => "terminated",
        }
    }
}

/// The result of a user task for the process: the output of the last task of the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: OutcomeStatus,
    /// The last task of the chain, whose output this is.
    pub task: HumanTaskId,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub output: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One `user` task of a process instance: the original task, its follow-ons and subtasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserTask {
    pub process_task: String,
    /// Indexed by [`HumanTaskId`]; deleted tasks stay as tombstones so ids are never reused.
    pub tasks: Vec<HumanTask>,
    #[serde(default, skip_serializing_if = "SubtaskPolicy::is_default")]
    pub subtask_policy: SubtaskPolicy,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timers: Vec<PendingTimer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Numbers timer keys, so a key is never used twice.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub next_timer: u64,
}

impl UserTask {
    pub fn task(&self, id: HumanTaskId) -> Option<&HumanTask> {
        self.tasks.get(id.index())
    }

    pub(super) fn at(&self, id: HumanTaskId) -> &HumanTask {
        &self.tasks[id.index()]
    }

    pub fn original(&self) -> &HumanTask {
        self.at(HumanTaskId::ORIGINAL)
    }

    /// The first task of `id`'s chain (the original or a subtask).
    pub fn head_of(&self, id: HumanTaskId) -> HumanTaskId {
        let mut current = id;
        while let HumanTaskRole::FollowOn { predecessor } = self.at(current).role {
            current = predecessor;
        }
        current
    }

    /// The tasks of `id`'s chain, first to last.
    pub fn chain(&self, id: HumanTaskId) -> Vec<HumanTaskId> {
        let mut chain = vec![self.head_of(id)];
        while let Some(next) = self
            .at(*chain.last().expect("a chain has a first task"))
            .follow_on
        {
            chain.push(next);
        }
        chain
    }

    /// The last task of `id`'s chain: the one whose work the chain waits for, or whose end ended it.
    pub fn last_in_chain(&self, id: HumanTaskId) -> HumanTaskId {
        *self.chain(id).last().expect("a chain has a first task")
    }

    /// Is `id`'s chain still waiting for work (its last task ready or claimed, maybe suspended)?
    pub fn is_chain_open(&self, id: HumanTaskId) -> bool {
        self.at(self.last_in_chain(id)).status.is_live()
    }

    pub fn is_chain_suspended(&self, id: HumanTaskId) -> bool {
        self.at(self.head_of(id)).status.is_suspended()
    }

    /// The subtask chains of `id` that have not ended.
    pub fn open_subtasks(&self, id: HumanTaskId) -> Vec<HumanTaskId> {
        self.at(id)
            .subtasks
            .iter()
            .copied()
            .filter(|&s| self.is_chain_open(s))
            .collect()
    }

    /// Tasks ready or claimed: what inboxes show.
    pub fn live_tasks(&self) -> impl Iterator<Item = &HumanTask> {
        self.tasks.iter().filter(|t| t.status.is_live())
    }

    /// How the original chain ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// The status the process graph shows for this task: the original's.
    pub fn status_name(&self) -> &'static str {
        self.original().status.name()
    }
}
