//! Siebel's interactive workflows in user sessions, as the surfaces show them: a session and
//! the workflows in its cache, the view a workflow shows its user, what left a cache and how,
//! and the suspended workflows of an inbox.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::human_task::FormField;
use crate::instance::InstanceStatus;

/// An open user session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    /// The session id (a UUID): the other session requests name it.
    pub id: String,
    /// The user it belongs to.
    pub user: String,
    /// When the user logged in.
    pub created_at: DateTime<Utc>,
    /// The last request in the session: it is logged out when idle for `idle_timeout_ms`.
    pub last_seen: DateTime<Utc>,
    /// How long the session may be idle before it is logged out, in milliseconds.
    pub idle_timeout_ms: u64,
    /// The most workflows its cache holds; the next one evicts the least recently used.
    pub cache_size: usize,
    /// The workflows in its cache, the most recently used first.
    pub workflows: Vec<SessionWorkflow>,
}

/// An interactive workflow in a session's cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionWorkflow {
    /// The instance id.
    pub instance: String,
    /// The process (definition id).
    pub process: String,
    /// The instance's status.
    pub status: InstanceStatus,
    /// The step where the user is: the view it shows, else the task it waits in; `null` once it ended.
    pub step: Option<String>,
    /// The view shown to the user, waiting for their submission; `null` when none is.
    pub view: Option<View>,
    /// The event a `wait` step waits for (`NAME` or `NAME key KEY`); `null` when none does.
    pub waiting_for: Option<String>,
    /// Its definition's Auto Persist flag: leaving the cache puts it in the inbox (else it is deleted).
    pub auto_persist: bool,
}

/// A view (a form) a `view` step shows to the user driving the workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct View {
    /// The `view` task's id.
    pub task: String,
    /// Its title.
    pub title: String,
    /// Its description; `null` if it has none.
    pub description: Option<String>,
    /// The fields a submission fills in.
    pub fields: Vec<FormField>,
}

/// What a session request did: the workflow it was about, and what left the cache for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionStep {
    /// The workflow as it is now.
    pub workflow: SessionWorkflow,
    /// The workflows that left the cache to make room (the least recently used one, when the cache was full).
    pub left: Vec<LeftWorkflow>,
}

/// What became of a workflow that left a session's cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LeftTo {
    /// Saved in its owner's inbox (Auto Persist: implicit suspension).
    Inbox,
    /// Deleted (no Auto Persist): the instance is aborted with the reason.
    Deleted,
    /// It had ended meanwhile; nothing was done.
    Ended,
}

/// A workflow that left a session's cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeftWorkflow {
    /// The instance id.
    pub instance: String,
    /// The process (definition id).
    pub process: String,
    /// Where it went.
    pub to: LeftTo,
    /// Why it left: `evicted`, `logout`, `idle_timeout` or `server_restart`.
    pub why: String,
}

/// What a logout did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Logout {
    /// The session that ended.
    pub session: String,
    /// Every workflow of its cache, and where it went.
    pub left: Vec<LeftWorkflow>,
}

/// Why a suspended workflow is in the inbox (Siebel's explicit and implicit suspension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SuspendedWhy {
    /// Its user suspended it.
    Explicit,
    /// It left its session's cache with Auto Persist.
    Implicit,
}

/// A suspended interactive workflow in its owner's inbox: resumed by its instance id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuspendedWorkflow {
    /// The instance id (what resuming names).
    pub instance: String,
    /// Its owner.
    pub owner: String,
    /// The process (definition id).
    pub process: String,
    /// The step where its user left off (a view, or the task it waits in); `null` if none is open.
    pub step: Option<String>,
    /// When it was suspended.
    pub suspended_at: DateTime<Utc>,
    /// Explicit or implicit.
    pub why: SuspendedWhy,
    /// For an implicit suspension, what made it leave the cache (`evicted`, `logout`, `idle_timeout`, `server_restart`); else `null`.
    pub note: Option<String>,
}
