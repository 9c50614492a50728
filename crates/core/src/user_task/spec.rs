//! Specifications: what the engine builds from the definition and process data to create a
//! human task, a follow-on or a subtask, and the escalations they carry.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{duration_text, FormField};
use crate::people::PotentialOwners;

/// What happens to a parent's open subtasks when the parent is completed or forwarded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubtaskPolicy {
    /// The parent can complete only when its subtasks ended (the default).
    #[default]
    WaitForSubtasks,
    /// Completing the parent terminates its open subtasks.
    EndOpenSubtasks,
}

impl SubtaskPolicy {
    pub(super) fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Where an escalation's `after` is counted from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationStart {
    /// The task's creation (the default).
    #[default]
    Creation,
    /// Each claim of the task; a cancelled claim cancels the timer.
    Claim,
    /// The task's due date (its creation when it has none).
    DueDate,
}

/// The state that, once reached, makes an escalation unnecessary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedState {
    /// Escalate if nobody claimed the task by then.
    Claimed,
    /// Escalate if the task (its chain) has not ended by then (the default).
    #[default]
    Ended,
}

/// What an escalation does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum EscalationAction {
    /// Adds `by` to the priority of every escalated task (higher is more urgent).
    RaisePriority { by: i32 },
    /// Asks the driver to notify these people.
    Notify { to: PotentialOwners },
    /// The chain's current task is offered to these people instead; a claim on it is released.
    Reassign { to: PotentialOwners },
}

/// An escalation of one task: `after` a start, unless the task reached `unless`, do `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationSpec {
    pub name: String,
    #[serde(with = "duration_text")]
    pub after: Duration,
    #[serde(default)]
    pub from: EscalationStart,
    #[serde(default)]
    pub unless: ExpectedState,
    #[serde(flatten)]
    pub action: EscalationAction,
}

/// A `user` task as the process starts it (potential owners and description already resolved
/// from process data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserTaskSpec {
    /// The id of the task in the process definition; timer keys start with it.
    pub process_task: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub input: Map<String, Value>,
    pub potential_owners: PotentialOwners,
    /// People who may act on the task beyond its owners (claim, terminate, delete, restart…).
    #[serde(default)]
    pub administrators: PotentialOwners,
    /// Who started the process (the task's originator), if a user did.
    #[serde(default)]
    pub originator: Option<String>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    #[serde(with = "crate::timestamp::option")]
    pub due: Option<DateTime<Utc>>,
    #[serde(default)]
    pub output_fields: Vec<FormField>,
    /// The chain expires this long after creation (its last task becomes `expired`).
    #[serde(default, with = "duration_text::option")]
    pub expires_after: Option<Duration>,
    #[serde(default)]
    pub escalations: Vec<EscalationSpec>,
    #[serde(default)]
    pub subtask_policy: SubtaskPolicy,
}

/// A follow-on task as its originator starts it. Its input is a copy of the predecessor's input
/// with `input` laid over it, and it carries the predecessor's notes plus `notes`. It has no
/// expiration of its own: the chain expires when its first task's expiration fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowOnSpec {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub to: PotentialOwners,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub input: Map<String, Value>,
    /// Escalations of its own, counted from its start, so the predecessor's owner can follow it.
    #[serde(default)]
    pub escalations: Vec<EscalationSpec>,
}

impl FollowOnSpec {
    /// A follow-on titled `title` for `to`, with no description, notes, input or escalations.
    pub fn new(title: impl Into<String>, to: PotentialOwners) -> Self {
        Self {
            title: title.into(),
            description: String::new(),
            to,
            notes: None,
            input: Map::new(),
            escalations: Vec::new(),
        }
    }

    pub fn with_notes(self, notes: impl Into<String>) -> Self {
        Self {
            notes: Some(notes.into()),
            ..self
        }
    }
}

/// A subtask as its parent's owner creates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtaskSpec {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub to: PotentialOwners,
    #[serde(default)]
    pub input: Map<String, Value>,
    #[serde(default)]
    pub output_fields: Vec<FormField>,
    #[serde(default, with = "duration_text::option")]
    pub expires_after: Option<Duration>,
    #[serde(default)]
    pub escalations: Vec<EscalationSpec>,
}
