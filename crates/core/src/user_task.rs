//! Human tasks (the `user` task kind): one task, its subtasks and its chain of follow-on tasks,
//! as a pure state machine. Implements the IBM follow-on tasks seed
//! (`seeds/001_*-ibm-follow-on-tasks.txt`) and the human-task lifecycle:
//!
//! - a task is created `ready` for its `potential_owners`; `claim` makes it `claimed` by one
//!   user, `cancel_claim` makes it `ready` again, `complete` (output checked against the typed
//!   form) ends it `ended_ok`, `fail` ends it `ended_not_ok`;
//! - the owner may create **subtasks** for other people; the parent completes only when its
//!   subtasks ended, or ends them first ([`SubtaskPolicy`]);
//! - the owner may start a **follow-on** task for someone else: the predecessor becomes
//!   `forwarded` and its work ends. "A chain of follow-on tasks is handled as though it were a
//!   single task": suspending or resuming any task of the chain suspends or resumes all of them
//!   (each gets the `suspended` substate, which remembers the status it was in); escalating any
//!   task escalates every follow-on after it; terminating any task terminates the chain; follow-ons
//!   have no expiration of their own ([`FollowOnSpec`] has no field for one): when the first task's
//!   expiration fires, the *last* task becomes `expired`; deleting or restarting the first task
//!   deletes its follow-ons, and deleting (or restarting) a follow-on on its own is refused;
//! - the output of the last task of the chain is the output the process gets ([`Outcome`]).
//!
//! Nothing here does I/O or reads a clock. [`create`] and [`apply`] take the time as an argument
//! and return the new state, the events that record what happened and the effects a driver must
//! carry out: durable timers to set or clear (escalation and expiration deadlines), people to
//! notify, and the end of the task for the process. The caller resolves identities: it passes a
//! [`Caller`] (user, groups, admin flag) and potential owners already evaluated from expressions.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::data_type::json_type_name;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

// ---------------------------------------------------------------------------------------
// People

pub use crate::people::{Actor, Caller, PotentialOwners};

impl PotentialOwners {
    /// Adds the value an assignment expression produced: a user name (`"sarah"` or
    /// `"user:sarah"`), a group (`"group:legal"`), a list of those, or an object
    /// `{"users": [...], "groups": [...]}`.
    pub fn add_resolved(&mut self, value: &Value) -> Result<(), UserTaskError> {
        let refused = |v: &Value| {
            UserTaskError::InvalidPotentialOwners(format!(
                "expected a user name, \"group:NAME\", a list of those or {{\"users\": [..], \"groups\": [..]}}, got {}",
                json_type_name(v)
            ))
        };
        match value {
            Value::String(s) if s.trim().is_empty() => Err(UserTaskError::InvalidPotentialOwners("an empty name names nobody".into())),
            Value::String(s) => {
                match s.split_once(':') {
                    Some(("group", g)) => self.groups.insert(g.trim().to_owned()),
                    Some(("user", u)) => self.users.insert(u.trim().to_owned()),
                    _ => self.users.insert(s.trim().to_owned()),
                };
                Ok(())
            }
            Value::Array(items) => items.iter().try_for_each(|v| self.add_resolved(v)),
            Value::Object(map) => {
                for (key, into_groups) in [("users", false), ("groups", true)] {
                    match map.get(key) {
                        None | Some(Value::Null) => {}
                        Some(Value::Array(names)) => {
                            for name in names {
                                let Value::String(name) = name else { return Err(refused(name)) };
                                if into_groups {
                                    self.groups.insert(name.clone())
                                } else {
                                    self.users.insert(name.clone())
                                };
                            }
                        }
                        Some(other) => return Err(refused(other)),
                    }
                }
                Ok(())
            }
            other => Err(refused(other)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Forms

/// The type of a form field: the same types as process data.
pub type FieldType = crate::data_type::DataType;

/// One typed output field of a task's form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl FormField {
    pub fn required(name: impl Into<String>, ty: FieldType) -> Self {
        Self { name: name.into(), ty, required: true, description: None }
    }

    pub fn optional(name: impl Into<String>, ty: FieldType) -> Self {
        Self { name: name.into(), ty, required: false, description: None }
    }
}

/// What is wrong with `output` for a form of `fields` (empty when it fits). A task without
/// fields takes any output.
pub fn form_problems(fields: &[FormField], output: &Map<String, Value>) -> Vec<String> {
    if fields.is_empty() {
        return Vec::new();
    }
    let mut problems = Vec::new();
    for key in output.keys() {
        if !fields.iter().any(|f| &f.name == key) {
            let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            problems.push(format!("`{key}` is not a field of this task's form (it has {})", names.join(", ")));
        }
    }
    for field in fields {
        match output.get(&field.name) {
            None | Some(Value::Null) if field.required => problems.push(format!("`{}` is required", field.name)),
            None | Some(Value::Null) => {}
            Some(v) if !field.ty.admits(v) => problems.push(format!("`{}` must be {}, got {}", field.name, field.ty.name(), json_type_name(v))),
            Some(_) => {}
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------
// Specifications: what the engine builds from the definition and process data

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
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Stored states leave out fields at their default (they are read back as the default).
fn is_zero<N: Default + PartialEq>(n: &N) -> bool {
    *n == N::default()
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
        Self { title: title.into(), description: String::new(), to, notes: None, input: Map::new(), escalations: Vec::new() }
    }

    pub fn with_notes(self, notes: impl Into<String>) -> Self {
        Self { notes: Some(notes.into()), ..self }
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

// ---------------------------------------------------------------------------------------
// State

/// Identifies one human task within a [`UserTask`]: the original is `#0`, later tasks are
/// numbered in the order they were created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HumanTaskId(pub u32);

impl HumanTaskId {
    pub const ORIGINAL: Self = Self(0);

    fn index(self) -> usize {
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
        matches!(self.base(), Self::EndedOk { .. } | Self::EndedNotOk { .. } | Self::Expired { .. } | Self::Terminated { .. } | Self::Deleted { .. })
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
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration_text::option")]
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
    Escalate { task: HumanTaskId, escalation: usize },
}

impl TimerFires {
    pub fn task(&self) -> HumanTaskId {
        match self {
            Self::Expire { task } | Self::Escalate { task, .. } => *task,
        }
    }
}

/// A durable timer the driver must set: at `due`, apply [`UserTaskCommand::FireTimer`] with `key`.
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

    fn at(&self, id: HumanTaskId) -> &HumanTask {
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
        while let Some(next) = self.at(*chain.last().expect("a chain has a first task")).follow_on {
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
        self.at(id).subtasks.iter().copied().filter(|&s| self.is_chain_open(s)).collect()
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

// ---------------------------------------------------------------------------------------
// Commands, events, effects, errors

/// An operation on one of the tasks. Each is applied for an [`Actor`] and authorized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum UserTaskCommand {
    /// A potential owner (or an administrator) takes a ready task.
    Claim { task: HumanTaskId },
    /// The owner gives a claimed task back (`ready`).
    CancelClaim { task: HumanTaskId },
    /// The owner ends the task `ended_ok` with output that fits the form.
    Complete { task: HumanTaskId, output: Map<String, Value> },
    /// The owner ends the task `ended_not_ok`.
    Fail { task: HumanTaskId, reason: String },
    /// The owner of a claimed task creates a subtask for someone else.
    CreateSubtask { parent: HumanTaskId, spec: SubtaskSpec },
    /// The owner of a claimed task starts a follow-on task; the task becomes `forwarded`.
    StartFollowOn { task: HumanTaskId, spec: FollowOnSpec },
    /// Suspends the whole chain of `task`.
    Suspend { task: HumanTaskId },
    /// Resumes the whole chain of `task`.
    Resume { task: HumanTaskId },
    /// An administrator escalates `task` (and so every follow-on after it) by hand.
    Escalate { task: HumanTaskId, name: String, action: EscalationAction },
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
    Notify { task: HumanTaskId, escalation: String, to: PotentialOwners },
    /// The original chain ended: the process task ends with this status and output.
    Ended(Outcome),
    /// The user task was deleted: drop it from inboxes.
    Deleted,
}

/// The result of [`create`] or [`apply`].
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
    NotOwner { task: HumanTaskId, user: String, action: &'static str, owner: String },
    #[error("`{user}` may not {action} task {task}: only an administrator may")]
    NotAdministrator { task: HumanTaskId, user: String, action: &'static str },
    #[error("`{user}` may not {action} task {task}: only an administrator, its owner or the originator of a task in its chain may")]
    NotInvolved { task: HumanTaskId, user: String, action: &'static str },
    #[error("only the engine may {action}")]
    EngineOnly { action: &'static str },
    #[error("`{action}` must name the acting user")]
    UserOnly { action: &'static str },
    #[error("task {task} is not claimed; claim it before you {action} it")]
    NotClaimed { task: HumanTaskId, action: &'static str },
    #[error("task {task} is already claimed by `{by}`")]
    AlreadyClaimed { task: HumanTaskId, by: String },
    #[error("task {task} was forwarded to follow-on task {to} and its work ended; {action} task {to} instead")]
    Forwarded { task: HumanTaskId, to: HumanTaskId, action: &'static str },
    #[error("task {task} is suspended with its chain; resume it before you {action} it")]
    Suspended { task: HumanTaskId, action: &'static str },
    #[error("task {task} is already suspended")]
    AlreadySuspended { task: HumanTaskId },
    #[error("task {task} is not suspended")]
    NotSuspended { task: HumanTaskId },
    #[error("task {task} has ended ({status}); it takes no more lifecycle operations")]
    ChainEnded { task: HumanTaskId, status: &'static str },
    #[error("task {task} has open subtasks ({}); they must end first", join_ids(.subtasks))]
    OpenSubtasks { task: HumanTaskId, subtasks: Vec<HumanTaskId> },
    #[error("the output of task {task} does not fit its form: {}", .problems.join("; "))]
    InvalidOutput { task: HumanTaskId, problems: Vec<String> },
    #[error("task `{title}` needs at least one potential owner (a user or a group)")]
    NoPotentialOwners { title: String },
    #[error("escalation `{escalation}` must name at least one user or group to notify or reassign to")]
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
    FollowOnAlone { task: HumanTaskId, head: HumanTaskId, action: &'static str },
    #[error("timer `{0}` is not pending (it was cleared, paused or already fired)")]
    StaleTimer(String),
}

fn join_ids(ids: &[HumanTaskId]) -> String {
    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------------------
// Transitions

/// Creates the user task: its original task `ready` for its potential owners, with its
/// expiration and escalation timers.
pub fn create(spec: UserTaskSpec, now: DateTime<Utc>) -> Result<UserTaskTransition, UserTaskError> {
    if spec.potential_owners.is_empty() {
        return Err(UserTaskError::NoPotentialOwners { title: spec.title });
    }
    check_escalations(&spec.escalations)?;
    let state = UserTask {
        process_task: spec.process_task,
        tasks: Vec::new(),
        subtask_policy: spec.subtask_policy,
        timers: Vec::new(),
        outcome: None,
        deleted: false,
        next_timer: 0,
    };
    let actor = Actor::Engine;
    let mut m = Machine { st: state, events: Vec::new(), effects: Vec::new(), created: Vec::new(), now, actor: &actor };
    let id = m.add_task(HumanTask {
        id: HumanTaskId::ORIGINAL,
        role: HumanTaskRole::Original,
        title: spec.title,
        description: spec.description,
        input: spec.input,
        output: None,
        notes: Vec::new(),
        potential_owners: spec.potential_owners,
        administrators: spec.administrators,
        originator: spec.originator,
        priority: spec.priority,
        due: spec.due,
        output_fields: spec.output_fields,
        status: HumanTaskStatus::Ready,
        follow_on: None,
        subtasks: Vec::new(),
        expires_after: spec.expires_after,
        escalation_specs: spec.escalations,
        escalations: Vec::new(),
        created_at: now,
        updated_at: now,
    });
    m.schedule_start_timers(id);
    Ok(m.finish())
}

/// Applies `command` for `actor` at `now`. On error nothing changed.
pub fn apply(state: &UserTask, actor: &Actor, command: UserTaskCommand, now: DateTime<Utc>) -> Result<UserTaskTransition, UserTaskError> {
    if state.deleted {
        return Err(UserTaskError::UserTaskDeleted(state.process_task.clone()));
    }
    let mut m = Machine { st: state.clone(), events: Vec::new(), effects: Vec::new(), created: Vec::new(), now, actor };
    match command {
        UserTaskCommand::Claim { task } => m.claim(task)?,
        UserTaskCommand::CancelClaim { task } => m.cancel_claim(task)?,
        UserTaskCommand::Complete { task, output } => m.complete(task, output)?,
        UserTaskCommand::Fail { task, reason } => m.fail(task, reason)?,
        UserTaskCommand::CreateSubtask { parent, spec } => m.create_subtask(parent, spec)?,
        UserTaskCommand::StartFollowOn { task, spec } => m.start_follow_on(task, spec)?,
        UserTaskCommand::Suspend { task } => m.suspend(task)?,
        UserTaskCommand::Resume { task } => m.resume(task)?,
        UserTaskCommand::Escalate { task, name, action } => m.escalate_by_hand(task, name, action)?,
        UserTaskCommand::Terminate { task } => m.terminate(task)?,
        UserTaskCommand::Delete { task } => m.delete(task)?,
        UserTaskCommand::Restart { task } => m.restart(task)?,
        UserTaskCommand::FireTimer { key } => m.fire_timer(&key)?,
    }
    Ok(m.finish())
}

fn check_escalations(escalations: &[EscalationSpec]) -> Result<(), UserTaskError> {
    escalations.iter().try_for_each(|e| {
        check_duration(e.after, || format!("the `after` of escalation `{}`", e.name))?;
        check_escalation(&e.name, &e.action)
    })
}

/// Durations given with a command are held to the bound a definition's are.
fn check_duration(d: Duration, what: impl FnOnce() -> String) -> Result<(), UserTaskError> {
    crate::duration::check(d).map(|_| ()).map_err(|_| UserTaskError::DurationTooLong { what: what() })
}

/// An escalation that notifies or reassigns must name someone.
fn check_escalation(name: &str, action: &EscalationAction) -> Result<(), UserTaskError> {
    match action {
        EscalationAction::Reassign { to } | EscalationAction::Notify { to } if to.is_empty() => {
            Err(UserTaskError::EscalationNamesNobody { escalation: name.to_owned() })
        }
        _ => Ok(()),
    }
}

fn later(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    crate::timestamp::after(t, d)
}

struct Machine<'a> {
    st: UserTask,
    events: Vec<UserTaskEvent>,
    effects: Vec<UserTaskEffect>,
    created: Vec<HumanTaskId>,
    now: DateTime<Utc>,
    actor: &'a Actor,
}

impl<'a> Machine<'a> {
    fn finish(self) -> UserTaskTransition {
        UserTaskTransition { state: self.st, events: self.events, effects: self.effects, created: self.created }
    }

    fn t(&self, id: HumanTaskId) -> &HumanTask {
        self.st.at(id)
    }

    fn t_mut(&mut self, id: HumanTaskId) -> &mut HumanTask {
        &mut self.st.tasks[id.index()]
    }

    fn by(&self) -> String {
        self.actor.name().to_owned()
    }

    fn emit(&mut self, task: HumanTaskId, kind: UserTaskEventKind) {
        let now = self.now;
        self.t_mut(task).updated_at = now;
        self.events.push(UserTaskEvent { at: now, task, by: self.actor.name().to_owned(), kind });
    }

    fn set_status(&mut self, id: HumanTaskId, status: HumanTaskStatus) {
        self.t_mut(id).status = status.clone();
        self.emit(id, UserTaskEventKind::StatusChanged { to: status });
    }

    /// Replaces the status under the `suspended` substate, keeping the substate.
    fn set_base_status(&mut self, id: HumanTaskId, base: HumanTaskStatus) {
        let status = match self.t(id).status.clone() {
            HumanTaskStatus::Suspended { since, by, .. } => HumanTaskStatus::Suspended { was: Box::new(base), since, by },
            _ => base,
        };
        self.set_status(id, status);
    }

    fn add_task(&mut self, task: HumanTask) -> HumanTaskId {
        let id = task.id;
        let event = UserTaskEventKind::Created { role: task.role, title: task.title.clone(), potential_owners: task.potential_owners.clone() };
        self.st.tasks.push(task);
        self.created.push(id);
        self.emit(id, event);
        id
    }

    fn next_id(&self) -> HumanTaskId {
        HumanTaskId(self.st.tasks.len() as u32)
    }

    // --- lookups and checks -------------------------------------------------------------

    /// The task, if it exists and was not deleted.
    fn existing(&self, id: HumanTaskId) -> Result<&HumanTask, UserTaskError> {
        let task = self.st.task(id).ok_or(UserTaskError::UnknownTask(id))?;
        if matches!(task.status, HumanTaskStatus::Deleted { .. }) {
            return Err(UserTaskError::TaskDeleted(id));
        }
        Ok(task)
    }

    fn caller(&self, action: &'static str) -> Result<&'a Caller, UserTaskError> {
        match self.actor {
            Actor::User(caller) => Ok(caller),
            Actor::Engine => Err(UserTaskError::UserOnly { action }),
        }
    }

    /// The task must be the one the chain waits for, and not suspended.
    fn live(&self, id: HumanTaskId, action: &'static str) -> Result<&HumanTask, UserTaskError> {
        let task = self.existing(id)?;
        if task.status.is_suspended() {
            return Err(UserTaskError::Suspended { task: id, action });
        }
        match &task.status {
            HumanTaskStatus::Forwarded { to, .. } => Err(UserTaskError::Forwarded { task: id, to: *to, action }),
            s if s.is_end() => Err(UserTaskError::ChainEnded { task: id, status: s.name() }),
            _ => Ok(task),
        }
    }

    /// The task must be live and claimed by the caller.
    fn owned(&self, id: HumanTaskId, action: &'static str) -> Result<&'a Caller, UserTaskError> {
        let caller = self.caller(action)?;
        let task = self.live(id, action)?;
        match task.status.claimed_by() {
            None => Err(UserTaskError::NotClaimed { task: id, action }),
            Some(owner) if owner != caller.user => {
                Err(UserTaskError::NotOwner { task: id, user: caller.user.clone(), action, owner: owner.to_owned() })
            }
            Some(_) => Ok(caller),
        }
    }

    /// The chain of `id` must not have ended.
    fn open_chain(&self, id: HumanTaskId) -> Result<Vec<HumanTaskId>, UserTaskError> {
        self.existing(id)?;
        let last = self.st.last_in_chain(id);
        let status = &self.t(last).status;
        if !status.is_live() {
            return Err(UserTaskError::ChainEnded { task: id, status: status.base().name() });
        }
        Ok(self.st.chain(id))
    }

    fn is_admin_of(&self, caller: &Caller, id: HumanTaskId) -> bool {
        let head = self.st.head_of(id);
        caller.admin || self.t(id).administrators.includes(caller) || self.t(head).administrators.includes(caller)
    }

    /// The engine, or a user who administers `id`.
    fn require_admin(&self, id: HumanTaskId, action: &'static str) -> Result<(), UserTaskError> {
        match self.actor {
            Actor::Engine => Ok(()),
            Actor::User(caller) if self.is_admin_of(caller, id) => Ok(()),
            Actor::User(caller) => Err(UserTaskError::NotAdministrator { task: id, user: caller.user.clone(), action }),
        }
    }

    /// The engine, an administrator, the owner of the chain's current task, or the originator
    /// of a task in the chain (the seed: "the owner of the predecessor task and the originator
    /// of the follow-on task can better control the progress").
    fn require_involved(&self, id: HumanTaskId, chain: &[HumanTaskId], action: &'static str) -> Result<(), UserTaskError> {
        let Actor::User(caller) = self.actor else { return Ok(()) };
        let owner = chain.iter().any(|&t| self.t(t).status.claimed_by() == Some(caller.user.as_str()));
        let originator = chain.iter().any(|&t| self.t(t).originator.as_deref() == Some(caller.user.as_str()));
        if self.is_admin_of(caller, id) || owner || originator {
            Ok(())
        } else {
            Err(UserTaskError::NotInvolved { task: id, user: caller.user.clone(), action })
        }
    }

    fn refuse_on_follow_on(&self, id: HumanTaskId, action: &'static str) -> Result<(), UserTaskError> {
        match self.t(id).role {
            HumanTaskRole::FollowOn { .. } => Err(UserTaskError::FollowOnAlone { task: id, head: self.st.head_of(id), action }),
            _ => Ok(()),
        }
    }

    // --- timers -------------------------------------------------------------------------

    fn schedule(&mut self, fires: TimerFires, due: DateTime<Utc>) {
        let key = format!("user_task:{}:{}", self.st.process_task, self.st.next_timer);
        self.st.next_timer += 1;
        self.st.timers.push(PendingTimer { key: key.clone(), fires: fires.clone(), state: TimerState::Scheduled { due } });
        self.effects.push(UserTaskEffect::SetTimer(TimerRequest { key, due, fires }));
    }

    /// Removes the pending timers `which` selects; scheduled ones are cleared in the store too
    /// (paused ones already were).
    fn clear_timers(&mut self, which: impl Fn(&PendingTimer) -> bool) {
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.st.timers).into_iter().partition(|t| which(t));
        self.st.timers = kept;
        for timer in gone {
            if let TimerState::Scheduled { .. } = timer.state {
                self.effects.push(UserTaskEffect::ClearTimer { key: timer.key });
            }
        }
    }

    fn clear_timers_of(&mut self, tasks: &[HumanTaskId]) {
        self.clear_timers(|t| tasks.contains(&t.fires.task()));
    }

    /// The expiration (first tasks only) and the escalations counted from creation or due date.
    fn schedule_start_timers(&mut self, id: HumanTaskId) {
        let now = self.now;
        let task = self.t(id);
        let mut timers = Vec::new();
        if let Some(after) = task.expires_after {
            timers.push((TimerFires::Expire { task: id }, later(now, after)));
        }
        for (n, e) in task.escalation_specs.iter().enumerate() {
            let start = match e.from {
                EscalationStart::Creation => now,
                EscalationStart::DueDate => task.due.unwrap_or(now),
                EscalationStart::Claim => continue,
            };
            timers.push((TimerFires::Escalate { task: id, escalation: n }, later(start, e.after)));
        }
        for (fires, due) in timers {
            self.schedule(fires, due);
        }
    }

    fn claim_escalations(&self, id: HumanTaskId) -> Vec<usize> {
        self.t(id).escalation_specs.iter().enumerate().filter(|(_, e)| e.from == EscalationStart::Claim).map(|(n, _)| n).collect()
    }

    fn clear_claim_timers(&mut self, id: HumanTaskId) {
        let claim = self.claim_escalations(id);
        self.clear_timers(|t| matches!(t.fires, TimerFires::Escalate { task, escalation } if task == id && claim.contains(&escalation)));
    }

    // --- ending chains ------------------------------------------------------------------

    /// Terminates the open subtask chains of the tasks in `chain`.
    fn terminate_open_subtasks(&mut self, chain: &[HumanTaskId]) {
        for &t in chain {
            for sub in self.st.open_subtasks(t) {
                self.terminate_chain(sub);
            }
        }
    }

    /// Every task of `id`'s chain becomes `terminated`, with its open subtasks.
    fn terminate_chain(&mut self, id: HumanTaskId) {
        let chain = self.st.chain(id);
        self.terminate_open_subtasks(&chain);
        let status = HumanTaskStatus::Terminated { by: self.by(), at: self.now };
        for &t in &chain {
            self.set_status(t, status.clone());
        }
        self.chain_ended(id, OutcomeStatus::Terminated, None);
    }

    /// Bookkeeping once the last task of `id`'s chain ended: its timers go, and the process
    /// (for the original chain) or the parent (for a subtask chain) hears of it.
    fn chain_ended(&mut self, id: HumanTaskId, status: OutcomeStatus, reason: Option<String>) {
        let chain = self.st.chain(id);
        self.terminate_open_subtasks(&chain);
        self.clear_timers_of(&chain);
        let head = chain[0];
        let last = *chain.last().expect("a chain has a first task");
        match self.t(head).role {
            HumanTaskRole::Original => {
                let output = match status {
                    OutcomeStatus::EndedOk => self.t(last).output.clone().unwrap_or_default(),
                    _ => Map::new(),
                };
                let outcome = Outcome { status, task: last, output, reason };
                self.st.outcome = Some(outcome.clone());
                self.effects.push(UserTaskEffect::Ended(outcome));
            }
            HumanTaskRole::Subtask { parent } => {
                self.emit(parent, UserTaskEventKind::SubtaskEnded { subtask: head, status: status.name().to_owned() });
            }
            HumanTaskRole::FollowOn { .. } => unreachable!("a chain starts with the original or a subtask"),
        }
    }

    /// Applies the subtask policy before `id`'s work ends (completed or forwarded).
    fn settle_subtasks(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        let open = self.st.open_subtasks(id);
        if open.is_empty() {
            return Ok(());
        }
        match self.st.subtask_policy {
            SubtaskPolicy::WaitForSubtasks => Err(UserTaskError::OpenSubtasks { task: id, subtasks: open }),
            SubtaskPolicy::EndOpenSubtasks => {
                for sub in open {
                    self.terminate_chain(sub);
                }
                Ok(())
            }
        }
    }

    /// Every task of the subtree of `head` (its chain, their subtasks, recursively).
    fn subtree(&self, head: HumanTaskId) -> Vec<HumanTaskId> {
        let mut all = Vec::new();
        for t in self.st.chain(head) {
            all.push(t);
            for &sub in &self.t(t).subtasks {
                if !matches!(self.t(sub).status, HumanTaskStatus::Deleted { .. }) {
                    all.extend(self.subtree(sub));
                }
            }
        }
        all
    }

    fn mark_deleted(&mut self, tasks: &[HumanTaskId]) {
        self.clear_timers_of(tasks);
        let status = HumanTaskStatus::Deleted { by: self.by(), at: self.now };
        for &t in tasks {
            self.set_status(t, status.clone());
        }
    }

    // --- operations ---------------------------------------------------------------------

    fn claim(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        let caller = self.caller("claim")?;
        let task = self.live(id, "claim")?;
        if let Some(by) = task.status.claimed_by() {
            return Err(UserTaskError::AlreadyClaimed { task: id, by: by.to_owned() });
        }
        if !task.potential_owners.includes(caller) && !self.is_admin_of(caller, id) {
            return Err(UserTaskError::NotPotentialOwner { task: id, user: caller.user.clone() });
        }
        let by = caller.user.clone();
        self.set_status(id, HumanTaskStatus::Claimed { by, since: self.now });
        for n in self.claim_escalations(id) {
            let after = self.t(id).escalation_specs[n].after;
            self.schedule(TimerFires::Escalate { task: id, escalation: n }, later(self.now, after));
        }
        Ok(())
    }

    fn cancel_claim(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        self.owned(id, "cancel the claim of")?;
        self.set_status(id, HumanTaskStatus::Ready);
        self.clear_claim_timers(id);
        Ok(())
    }

    fn complete(&mut self, id: HumanTaskId, output: Map<String, Value>) -> Result<(), UserTaskError> {
        self.owned(id, "complete")?;
        let problems = form_problems(&self.t(id).output_fields, &output);
        if !problems.is_empty() {
            return Err(UserTaskError::InvalidOutput { task: id, problems });
        }
        self.settle_subtasks(id)?;
        self.t_mut(id).output = Some(output);
        self.set_status(id, HumanTaskStatus::EndedOk { by: self.by(), at: self.now });
        self.chain_ended(id, OutcomeStatus::EndedOk, None);
        Ok(())
    }

    fn fail(&mut self, id: HumanTaskId, reason: String) -> Result<(), UserTaskError> {
        self.owned(id, "fail")?;
        self.set_status(id, HumanTaskStatus::EndedNotOk { by: self.by(), reason: reason.clone(), at: self.now });
        self.chain_ended(id, OutcomeStatus::EndedNotOk, Some(reason));
        Ok(())
    }

    fn create_subtask(&mut self, parent: HumanTaskId, spec: SubtaskSpec) -> Result<(), UserTaskError> {
        let caller = self.owned(parent, "create a subtask of")?;
        if spec.to.is_empty() {
            return Err(UserTaskError::NoPotentialOwners { title: spec.title });
        }
        check_escalations(&spec.escalations)?;
        if let Some(d) = spec.expires_after {
            check_duration(d, || "the subtask's `expires_after`".into())?;
        }
        let originator = Some(caller.user.clone());
        let id = self.next_id();
        let mut task = self.derived_task(parent, id, HumanTaskRole::Subtask { parent }, spec.title, spec.description, spec.to, originator);
        task.input = spec.input;
        task.output_fields = spec.output_fields;
        task.expires_after = spec.expires_after;
        task.escalation_specs = spec.escalations;
        self.add_task(task);
        self.t_mut(parent).subtasks.push(id);
        self.schedule_start_timers(id);
        Ok(())
    }

    /// A new `ready` task made from task `from` (a subtask or a follow-on): it keeps `from`'s
    /// administrators, priority and due date; the caller fills in what differs.
    #[allow(clippy::too_many_arguments)]
    fn derived_task(
        &self,
        from: HumanTaskId,
        id: HumanTaskId,
        role: HumanTaskRole,
        title: String,
        description: String,
        potential_owners: PotentialOwners,
        originator: Option<String>,
    ) -> HumanTask {
        let p = self.t(from);
        HumanTask {
            id,
            role,
            title,
            description,
            input: Map::new(),
            output: None,
            notes: Vec::new(),
            potential_owners,
            administrators: p.administrators.clone(),
            originator,
            priority: p.priority,
            due: p.due,
            output_fields: Vec::new(),
            status: HumanTaskStatus::Ready,
            follow_on: None,
            subtasks: Vec::new(),
            expires_after: None,
            escalation_specs: Vec::new(),
            escalations: Vec::new(),
            created_at: self.now,
            updated_at: self.now,
        }
    }

    fn start_follow_on(&mut self, pred: HumanTaskId, spec: FollowOnSpec) -> Result<(), UserTaskError> {
        let caller = self.owned(pred, "start a follow-on task of")?;
        if spec.to.is_empty() {
            return Err(UserTaskError::NoPotentialOwners { title: spec.title });
        }
        check_escalations(&spec.escalations)?;
        let by = caller.user.clone();
        self.settle_subtasks(pred)?;
        let id = self.next_id();
        let p = self.t(pred);
        let mut input = p.input.clone();
        input.extend(spec.input);
        let mut notes = p.notes.clone();
        if let Some(text) = spec.notes.filter(|n| !n.trim().is_empty()) {
            notes.push(Note { by: by.clone(), at: self.now, text });
        }
        let mut task = self.derived_task(pred, id, HumanTaskRole::FollowOn { predecessor: pred }, spec.title, spec.description, spec.to, Some(by));
        task.input = input;
        task.notes = notes;
        // Its output becomes the original's output, so it fills in the same form.
        task.output_fields = p.output_fields.clone();
        task.escalation_specs = spec.escalations;
        // The chain acts as one task: an escalated chain stays escalated in its new task.
        task.escalations = p.escalations.clone();
        self.add_task(task);
        self.t_mut(pred).follow_on = Some(id);
        self.set_status(pred, HumanTaskStatus::Forwarded { to: id, at: self.now });
        self.clear_claim_timers(pred);
        self.schedule_start_timers(id);
        Ok(())
    }

    fn suspend(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        let chain = self.open_chain(id)?;
        self.require_involved(id, &chain, "suspend")?;
        if self.st.is_chain_suspended(id) {
            return Err(UserTaskError::AlreadySuspended { task: id });
        }
        let (by, now) = (self.by(), self.now);
        for &t in &chain {
            let was = Box::new(self.t(t).status.clone());
            self.set_status(t, HumanTaskStatus::Suspended { was, since: now, by: by.clone() });
        }
        // Suspension pauses the chain's deadlines too (DESIGN: suspend is first-class, timers included).
        let mut cleared = Vec::new();
        for timer in self.st.timers.iter_mut().filter(|t| chain.contains(&t.fires.task())) {
            if let TimerState::Scheduled { due } = timer.state {
                let remaining = (due - now).to_std().unwrap_or(Duration::ZERO);
                timer.state = TimerState::Paused { remaining };
                cleared.push(timer.key.clone());
            }
        }
        self.effects.extend(cleared.into_iter().map(|key| UserTaskEffect::ClearTimer { key }));
        Ok(())
    }

    fn resume(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        let chain = self.open_chain(id)?;
        self.require_involved(id, &chain, "resume")?;
        if !self.st.is_chain_suspended(id) {
            return Err(UserTaskError::NotSuspended { task: id });
        }
        for &t in &chain {
            if let HumanTaskStatus::Suspended { was, .. } = self.t(t).status.clone() {
                self.set_status(t, *was);
            }
        }
        // Paused timers run on with the time they had left, under new keys.
        let (paused, running): (Vec<_>, Vec<_>) = std::mem::take(&mut self.st.timers)
            .into_iter()
            .partition(|t| matches!(t.state, TimerState::Paused { .. }) && chain.contains(&t.fires.task()));
        self.st.timers = running;
        for timer in paused {
            let TimerState::Paused { remaining } = timer.state else { unreachable!("partitioned on paused timers") };
            self.schedule(timer.fires, later(self.now, remaining));
        }
        Ok(())
    }

    fn escalate_by_hand(&mut self, id: HumanTaskId, name: String, action: EscalationAction) -> Result<(), UserTaskError> {
        self.open_chain(id)?;
        self.require_admin(id, "escalate")?;
        check_escalation(&name, &action)?;
        self.escalate(id, name, action);
        Ok(())
    }

    /// `origin` escalates, and with it every follow-on task after it in the chain.
    fn escalate(&mut self, origin: HumanTaskId, name: String, action: EscalationAction) {
        let chain = self.st.chain(origin);
        let from = chain.iter().position(|&t| t == origin).expect("a task is in its own chain");
        let affected = chain[from..].to_vec();
        let last = *affected.last().expect("the origin is affected");
        for &t in &affected {
            let record = EscalationRecord { name: name.clone(), at: self.now, origin, action: action.clone() };
            self.t_mut(t).escalations.push(record);
            self.emit(t, UserTaskEventKind::Escalated { name: name.clone(), origin });
        }
        match action {
            EscalationAction::RaisePriority { by } => {
                for &t in &affected {
                    let priority = self.t(t).priority.saturating_add(by);
                    self.t_mut(t).priority = priority;
                    self.emit(t, UserTaskEventKind::PriorityChanged { to: priority });
                }
            }
            EscalationAction::Notify { to } => self.effects.push(UserTaskEffect::Notify { task: last, escalation: name, to }),
            EscalationAction::Reassign { to } => {
                self.t_mut(last).potential_owners = to.clone();
                self.emit(last, UserTaskEventKind::Reassigned { to });
                if self.t(last).status.claimed_by().is_some() {
                    self.clear_claim_timers(last);
                    self.set_base_status(last, HumanTaskStatus::Ready);
                }
            }
        }
    }

    fn terminate(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        self.open_chain(id)?;
        self.require_admin(id, "terminate")?;
        self.terminate_chain(id);
        Ok(())
    }

    fn delete(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        self.existing(id)?;
        self.refuse_on_follow_on(id, "delete")?;
        self.require_admin(id, "delete")?;
        match self.t(id).role {
            HumanTaskRole::Original => {
                let all: Vec<HumanTaskId> =
                    self.st.tasks.iter().filter(|t| !matches!(t.status, HumanTaskStatus::Deleted { .. })).map(|t| t.id).collect();
                self.mark_deleted(&all);
                self.st.timers.clear();
                self.st.deleted = true;
                self.effects.push(UserTaskEffect::Deleted);
            }
            HumanTaskRole::Subtask { parent } => {
                let open = self.st.is_chain_open(id);
                let subtree = self.subtree(id);
                self.mark_deleted(&subtree);
                if open {
                    self.emit(parent, UserTaskEventKind::SubtaskEnded { subtask: id, status: "deleted".into() });
                }
            }
            HumanTaskRole::FollowOn { .. } => unreachable!("refused above"),
        }
        Ok(())
    }

    fn restart(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        self.existing(id)?;
        self.refuse_on_follow_on(id, "restart")?;
        let chain = self.open_chain(id)?;
        self.require_admin(id, "restart")?;
        let mut gone: Vec<HumanTaskId> = chain[1..].to_vec();
        for &t in &chain {
            for &sub in &self.t(t).subtasks {
                if !matches!(self.t(sub).status, HumanTaskStatus::Deleted { .. }) {
                    gone.extend(self.subtree(sub));
                }
            }
        }
        self.mark_deleted(&gone);
        self.clear_timers_of(&[id]);
        let head = self.t_mut(id);
        head.follow_on = None;
        head.subtasks.clear();
        head.output = None;
        self.set_status(id, HumanTaskStatus::Ready);
        self.schedule_start_timers(id);
        Ok(())
    }

    fn fire_timer(&mut self, key: &str) -> Result<(), UserTaskError> {
        if !matches!(self.actor, Actor::Engine) {
            return Err(UserTaskError::EngineOnly { action: "fire timers" });
        }
        let position = self
            .st
            .timers
            .iter()
            .position(|t| t.key == key && matches!(t.state, TimerState::Scheduled { .. }))
            .ok_or_else(|| UserTaskError::StaleTimer(key.to_owned()))?;
        let timer = self.st.timers.remove(position);
        match timer.fires {
            TimerFires::Expire { task } => {
                // Follow-ons have no expiration of their own: the first task's timer expires the last task.
                let last = self.st.last_in_chain(task);
                self.set_status(last, HumanTaskStatus::Expired { at: self.now });
                self.chain_ended(task, OutcomeStatus::Expired, None);
            }
            TimerFires::Escalate { task, escalation } => {
                let spec = self.t(task).escalation_specs[escalation].clone();
                let reached = match spec.unless {
                    ExpectedState::Claimed => !matches!(self.t(task).status.base(), HumanTaskStatus::Ready),
                    ExpectedState::Ended => !self.st.is_chain_open(task),
                };
                if !reached {
                    self.escalate(task, spec.name, spec.action);
                }
            }
        }
        Ok(())
    }
}

/// Durations as people write them (`2h 30m`), so persisted state stays readable.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.collect_str(&humantime::format_duration(*d)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            Option::<String>::deserialize(d)?.map(|text| humantime::parse_duration(&text).map_err(serde::de::Error::custom)).transpose()
        }
    }
}
