//! Schedules: a process started at the slots of a cron expression, in a time zone, on the days
//! of a business calendar, with an overlap and a catch-up policy.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A schedule and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    /// The schedule's id; a definition's schedule has the process id.
    pub id: String,
    /// The process it starts (its latest version).
    pub process: String,
    /// The cron expression (five fields, or six with seconds first), read on the wall clock of `timezone`.
    pub cron: String,
    /// An IANA time zone name.
    pub timezone: String,
    /// Only slots on days of this deployed calendar; `null`: every day.
    pub calendar: Option<String>,
    /// The start data of every instance it starts.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Map<String, Value>,
    /// `skip`, `allow` or `buffer_one`: what a slot does while the last instance is still open.
    pub overlap: String,
    /// `skip`, `once` or `all`: what happens to slots missed while no Baton ran.
    pub catch_up: String,
    /// Missed slots older than this many seconds are not run.
    pub catch_up_window_secs: u64,
    /// Declared in the definition (`schedule:`): deploying the definition replaces it.
    pub from_definition: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub paused: bool,
    /// The next slots (up to five; none while paused or when the expression has no more).
    pub next_slots: Vec<DateTime<Utc>>,
    /// The instance it started last.
    pub last_instance: Option<String>,
    /// A slot waiting for the last instance to end (overlap `buffer_one`).
    pub buffered: Option<DateTime<Utc>>,
    /// The slots it took last, newest first (in `show` only; empty in lists).
    #[serde(default)]
    pub recent_slots: Vec<ScheduleSlot>,
}

/// One slot a schedule took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleSlot {
    pub slot: DateTime<Utc>,
    /// `started`, `skipped` (the last instance was still open) or `failed` (the start was refused).
    pub outcome: String,
    /// The instance it started.
    pub instance: Option<String>,
    /// Why the start was refused.
    pub message: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// A schedule to make for a process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    /// The process to start.
    pub process: String,
    /// Its id; default: the process id and a random suffix.
    #[serde(default)]
    pub id: Option<String>,
    pub cron: String,
    /// Default `UTC`.
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub calendar: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Map<String, Value>,
    /// `skip` (default), `allow` or `buffer_one`.
    #[serde(default)]
    pub overlap: Option<String>,
    /// `skip`, `once` (default) or `all`.
    #[serde(default)]
    pub catch_up: Option<String>,
    /// A duration such as `6h` or `2d` (default one day).
    #[serde(default)]
    pub catch_up_window: Option<String>,
}
