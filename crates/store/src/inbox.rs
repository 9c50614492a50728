//! The inbox: the open human tasks, indexed for "what may this user work on?".
//!
//! Only open work is kept: each engine step that changes a `user` task replaces that task's
//! rows ([`InboxUpdate`], computed by [`inbox_updates`] from the step's new state) in the same
//! transaction as the step, and a task that ended or was deleted leaves no row behind. So the
//! inbox never grows with finished instances (DESIGN: "indexes on what is open").

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use baton_core::user_task::{HumanTask, HumanTaskId, PotentialOwners};
use baton_core::Instance;

use crate::Result;

/// One open human task as the inbox indexes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxEntry {
    pub instance: String,
    /// The `user` task of the process.
    pub task: String,
    /// The human task within it (`#0` is the original; follow-ons and subtasks follow).
    pub human_task: HumanTaskId,
    /// The process definition id.
    pub process: String,
    pub title: String,
    /// `ready`, `claimed` or `suspended`.
    pub status: String,
    /// Who claimed it.
    pub owner: Option<String>,
    pub potential_owners: PotentialOwners,
    pub administrators: PotentialOwners,
    pub priority: i32,
    pub due: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub escalated: bool,
    /// The instance's department scope: only its department's users (and administrators)
    /// see the task in an inbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

/// The due key of a task without a due date: after every RFC 3339 time in byte order.
pub const NO_DUE: &str = "~";

/// A due date as the text every store's inbox rows sort by (byte order is time order).
pub fn due_key(due: Option<DateTime<Utc>>) -> String {
    due.map_or_else(
        || NO_DUE.to_owned(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    )
}

/// The due date a [`due_key`] was made from.
pub fn due_of_key(key: &str) -> std::result::Result<Option<DateTime<Utc>>, chrono::ParseError> {
    if key == NO_DUE {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(key).map(|t| Some(t.with_timezone(&Utc)))
}

/// The names a task's candidate rows are filed under, in every store: `u:USER` and `g:GROUP`
/// for its potential owners, `au:USER` and `ag:GROUP` for its administrators.
pub fn candidate_names(
    potential_owners: &PotentialOwners,
    administrators: &PotentialOwners,
) -> Vec<String> {
    let users = potential_owners.users.iter().map(|u| format!("u:{u}"));
    let groups = potential_owners.groups.iter().map(|g| format!("g:{g}"));
    let admin_users = administrators.users.iter().map(|u| format!("au:{u}"));
    let admin_groups = administrators.groups.iter().map(|g| format!("ag:{g}"));
    users
        .chain(groups)
        .chain(admin_users)
        .chain(admin_groups)
        .collect()
}

impl InboxEntry {
    /// The entry of human task `human` of user task `task` in `instance`.
    pub fn of(instance: &Instance, task: &str, human: &HumanTask) -> Self {
        Self {
            instance: instance.id.clone(),
            task: task.to_owned(),
            human_task: human.id,
            process: instance.definition_id.clone(),
            title: human.title.clone(),
            status: human.status.name().to_owned(),
            owner: human.status.claimed_by().map(str::to_owned),
            potential_owners: human.potential_owners.clone(),
            administrators: human.administrators.clone(),
            priority: human.priority,
            due: human.due,
            created_at: human.created_at,
            escalated: human.is_escalated(),
            department: instance.department.clone(),
        }
    }
}

/// Replaces every inbox row of user task `task` of `instance` with `entries` (none once it ended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxUpdate {
    pub instance: String,
    pub task: String,
    pub entries: Vec<InboxEntry>,
}

/// The inbox changes a step makes: one update per user task whose human tasks changed
/// between `old` (none for a new instance) and `new`.
pub fn inbox_updates(old: Option<&Instance>, new: &Instance) -> Vec<InboxUpdate> {
    let mut updates = Vec::new();
    for (i, state) in new.tasks.iter().enumerate() {
        let before = old
            .and_then(|o| o.tasks.get(i))
            .and_then(|t| t.user_task.as_ref());
        let after = state.user_task.as_ref();
        // A step shares the user tasks it did not touch with the state before it.
        let same = match (before, after) {
            (Some(b), Some(a)) => std::sync::Arc::ptr_eq(b, a) || b == a,
            (b, a) => b.is_none() && a.is_none(),
        };
        if same {
            continue;
        }
        let Some(task) = after.or(before).map(|ut| ut.process_task.clone()) else {
            continue;
        };
        let entries = match after {
            Some(ut) if !ut.deleted => ut
                .live_tasks()
                .map(|h| InboxEntry::of(new, &task, h))
                .collect(),
            _ => Vec::new(),
        };
        updates.push(InboxUpdate {
            instance: new.id.clone(),
            task,
            entries,
        });
    }
    updates
}

/// Which open tasks an inbox page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxStatus {
    /// Claimable: offered to the user (or a group of theirs), nobody claimed it.
    Ready,
    /// Claimed by the user.
    Claimed,
    /// Suspended with its chain (the user's own, or offered to them).
    Suspended,
    /// Escalated (the user's own, or offered to them).
    Escalated,
}

impl InboxStatus {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ready" => Some(Self::Ready),
            "claimed" => Some(Self::Claimed),
            "suspended" => Some(Self::Suspended),
            "escalated" => Some(Self::Escalated),
            _ => None,
        }
    }
}

/// Filters of an inbox page; the default shows everything the user may work.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxFilter {
    pub status: Option<InboxStatus>,
    /// Only tasks of this process (definition id).
    pub process: Option<String>,
    /// Only tasks due before this time (tasks without a due date are left out).
    pub due_before: Option<DateTime<Utc>>,
    /// Only tasks with at least this priority.
    pub min_priority: Option<i32>,
    /// Only tasks of instances in this department scope.
    #[serde(default)]
    pub scope: crate::DepartmentScope,
}

/// A page of an inbox: `number` counts from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub number: usize,
    pub per_page: usize,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            number: 1,
            per_page: 20,
        }
    }
}

impl Page {
    /// Rows before this page.
    pub fn offset(self) -> usize {
        self.number.saturating_sub(1) * self.per_page
    }
}

/// One row of an inbox page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxRow {
    pub instance: String,
    pub task: String,
    pub human_task: HumanTaskId,
    pub process: String,
    pub title: String,
    pub status: String,
    pub owner: Option<String>,
    pub priority: i32,
    pub due: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub escalated: bool,
}

/// A page of an inbox: the user's claimed tasks first, then the ones they may claim, each part
/// by priority (highest first), due date (soonest first, none last) and age (oldest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxPage {
    pub rows: Vec<InboxRow>,
    pub page: Page,
    /// Is there a next page?
    pub more: bool,
}

/// Reading inboxes.
pub trait InboxReader: Send + Sync {
    /// A page of `user`'s inbox: tasks claimed by them, then tasks offered to them directly, to
    /// one of `groups`, or that they administer.
    fn inbox(
        &self,
        user: &str,
        groups: &[String],
        filter: &InboxFilter,
        page: Page,
    ) -> impl Future<Output = Result<InboxPage>> + Send;
    /// Every open human task of an instance (for checks and displays), in no particular order.
    fn inbox_of_instance(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Vec<InboxRow>>> + Send;
}
