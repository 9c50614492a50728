//! A user's inbox: the open human tasks they may work, a page at a time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::human_task::HumanTaskStatus;

/// Which open tasks an inbox page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InboxStatus {
    /// Claimable: offered to the user (or a group of theirs), nobody claimed it.
    Ready,
    /// Claimed by the user.
    Claimed,
    /// Suspended with its chain.
    Suspended,
    /// Escalated.
    Escalated,
}

/// One open human task in an inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxRow {
    /// The instance id.
    pub instance: String,
    /// The `user` task's id in the process.
    pub task: String,
    /// The human task's number within it.
    pub human_task: u32,
    /// The process (definition id).
    pub process: String,
    /// The human task's title.
    pub title: String,
    /// `ready`, `claimed` or `suspended`.
    pub status: HumanTaskStatus,
    /// Who claimed it; `null` if nobody did.
    pub owner: Option<String>,
    /// Higher is more urgent.
    pub priority: i32,
    /// When it is due; `null` if it has no due date.
    pub due: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Has it escalated?
    pub escalated: bool,
}

/// A page of an inbox: the user's claimed tasks first, then the ones they may claim, each
/// part by priority (highest first), due date (soonest first, none last) and age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxPage {
    /// The rows of this page.
    pub rows: Vec<InboxRow>,
    /// The page's number, from 1.
    pub page: usize,
    /// Rows per page.
    pub per_page: usize,
    /// Is there a next page?
    pub more: bool,
    /// Beside the human tasks: the user's suspended interactive workflows, the most recently
    /// suspended first (at most 1,000; the same on every page).
    pub workflows: Vec<crate::session::SuspendedWorkflow>,
}

/// Which page of an inbox to show, and which tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxQuery {
    /// Only tasks in this state; `null` for all.
    pub status: Option<InboxStatus>,
    /// Only tasks of this process (definition id); `null` for all.
    pub process: Option<String>,
    /// Only tasks due before this time (tasks without a due date are left out); `null` for all.
    pub due_before: Option<DateTime<Utc>>,
    /// Only tasks with at least this priority; `null` for all.
    pub min_priority: Option<i32>,
    /// The page, from 1 (at most 1,000,000).
    pub page: usize,
    /// Rows per page, 1 to 1,000.
    pub per_page: usize,
}
