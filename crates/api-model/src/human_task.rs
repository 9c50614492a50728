//! Human tasks (IBM's follow-on tasks): the tasks of one `user` task of a process — the task
//! the process created, its follow-ons and subtasks — each with its state, people, form,
//! input, output, notes and escalations.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::people::People;
use crate::Data;

/// Where one human task is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HumanTaskStatus {
    /// Offered to its potential owners.
    Ready,
    /// Claimed by `claimed_by`.
    Claimed,
    /// Its owner started follow-on task `forwarded_to`; its own work ended.
    Forwarded,
    /// Suspended with its chain (see `suspended`).
    Suspended,
    /// Completed (see `ended`).
    EndedOk,
    /// Failed by its owner (see `ended`).
    EndedNotOk,
    /// Its chain's expiration came.
    Expired,
    /// Terminated with its chain.
    Terminated,
    /// Deleted (with its chain, or with its instance).
    Deleted,
}

/// A human task's status with what it names: whoever claimed, suspended or ended it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HumanTaskState {
    /// The status.
    pub status: HumanTaskStatus,
    /// Who claimed it (also while it is suspended); else `null`.
    pub claimed_by: Option<String>,
    /// The follow-on task it was forwarded to (also while suspended); else `null`.
    pub forwarded_to: Option<u32>,
    /// While `suspended`: who suspended it, since when, and what it resumes to; else `null`.
    pub suspended: Option<Suspension>,
    /// Once it ended (`ended_ok`, `ended_not_ok`, `expired`, `terminated`, `deleted`): who
    /// ended it, when, and why; else `null`.
    pub ended: Option<Ending>,
}

/// A suspended human task's suspension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suspension {
    /// Who suspended the chain.
    pub by: String,
    /// Since when.
    pub since: DateTime<Utc>,
    /// The status the task resumes to (`ready`, `claimed` or `forwarded`).
    pub resumes_to: HumanTaskStatus,
}

/// How a human task ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ending {
    /// Who ended it; `null` for `expired` (its timer did).
    pub by: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// For `ended_not_ok`: the note its owner gave; else `null`.
    pub reason: Option<String>,
}

/// How a human task hangs off the task the process created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HumanTaskRole {
    /// The task the process created (number 0).
    Original,
    /// Started by the owner of task `of`, which became `forwarded`.
    FollowOn,
    /// Created by the owner of task `of`.
    Subtask,
}

/// One output field of a human task's form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormField {
    /// The output key.
    pub name: String,
    /// Its data type: `string`, `integer`, `number`, `boolean`, `object`, `list` or `any`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Must the output have it?
    pub required: bool,
    /// What to enter; `null` if the definition gives no description.
    pub description: Option<String>,
}

/// A note passed along a chain of follow-on tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Note {
    /// Who wrote it.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The note.
    pub text: String,
}

/// One escalation a human task went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Escalation {
    /// The escalation's name.
    pub name: String,
    /// When it escalated.
    pub at: DateTime<Utc>,
    /// The task that escalated: itself, or the task before it in the chain whose escalation
    /// it followed.
    pub origin: u32,
    /// What it did: `raise_priority`, `notify` or `reassign`.
    pub action: String,
}

/// One human task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HumanTask {
    /// Its number within its user task (`0` is the task the process created).
    pub id: u32,
    /// The original, a follow-on or a subtask.
    pub role: HumanTaskRole,
    /// For a follow-on, the task it follows; for a subtask, its parent; else `null`.
    pub of: Option<u32>,
    /// The title its owners see.
    pub title: String,
    /// The description (may be empty).
    pub description: String,
    /// Its status and what the status names.
    #[serde(flatten)]
    pub state: HumanTaskState,
    /// Who may claim it.
    pub potential_owners: People,
    /// Who administers it (may act on it as an administrator does).
    pub administrators: People,
    /// Who created it: the process starter for the original, the owner of the task before it
    /// otherwise; `null` if unknown.
    pub originator: Option<String>,
    /// Higher is more urgent.
    pub priority: i32,
    /// When it is due; `null` if it has no due date.
    pub due: Option<DateTime<Utc>>,
    /// The output fields its form asks for (none: any output).
    pub form: Vec<FormField>,
    /// Its input (a copy of process data, or what its creator gave).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub input: Data,
    /// Its output once completed; else `null`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub output: Option<Data>,
    /// Notes passed along its chain.
    pub notes: Vec<Note>,
    /// Its escalations, oldest first.
    pub escalations: Vec<Escalation>,
    /// The follow-on task it was forwarded to; `null` if none.
    pub follow_on: Option<u32>,
    /// The first tasks of its subtask chains.
    pub subtasks: Vec<u32>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// How the chain of the original task ended: what the process got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outcome {
    /// The process task's end status: `ended_ok`, `ended_not_ok`, `expired` or `terminated`.
    pub status: String,
    /// The last task of the chain, whose output this is.
    pub task: u32,
    /// The output the process got.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub output: Data,
    /// Why it ended not OK; else `null`.
    pub reason: Option<String>,
}

/// The human tasks of one `user` task of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserTask {
    /// The instance id.
    pub instance: String,
    /// The `user` task's id in the process.
    pub task: String,
    /// Its human tasks by number (deleted ones included, as `deleted`), or the one asked for.
    pub human_tasks: Vec<HumanTask>,
    /// How its original chain ended; `null` while open.
    pub outcome: Option<Outcome>,
}

/// The answer to an operation on a human task: the instance afterwards and the task acted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HumanTaskUpdate {
    /// The instance after the operation.
    pub instance: crate::Instance,
    /// The number of the human task acted on (chosen when the request named none).
    pub human_task_id: u32,
    /// That human task after the operation; `null` if it is gone.
    pub human_task: Option<HumanTask>,
}
