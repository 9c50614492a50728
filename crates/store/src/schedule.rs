//! Schedules as stored: what each one starts, and its place (the next slot to look at, the
//! instance it started last, a slot waiting for that instance to end). A place moves only by
//! compare-and-set ([`ScheduleStore::advance_schedule`]), and each slot is recorded once,
//! keyed by schedule and slot time, so however many nodes look at a schedule, each slot is
//! taken once.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use baton_core::schedule::ScheduleSpec;

use crate::Result;

/// A schedule's place among its slots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulePlace {
    /// The next slot to look at; `None`: the schedule has no further slot.
    pub next_at: Option<DateTime<Utc>>,
    /// The instance the schedule started last.
    pub last_instance: Option<String>,
    /// A slot that waits for the last instance to end (overlap `buffer_one`).
    pub buffered: Option<DateTime<Utc>>,
}

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSchedule {
    /// The schedule's id; a definition's schedule has the process id.
    pub id: String,
    pub process: String,
    pub spec: ScheduleSpec,
    /// Declared in the definition (`schedule:`), so a deploy replaces it.
    pub from_definition: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub paused: bool,
    pub place: SchedulePlace,
}

/// What became of one slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SlotOutcome {
    /// It started this instance.
    Started { instance: String },
    /// It was skipped: the last instance was still open.
    Skipped,
    /// The start was refused (the process is gone, or the data no longer fits it).
    Failed { message: String },
}

/// One slot a schedule took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    pub slot: DateTime<Utc>,
    pub outcome: SlotOutcome,
    pub recorded_at: DateTime<Utc>,
}

/// Storing schedules and moving them along their slots.
pub trait ScheduleStore: Send + Sync {
    /// Stores a new schedule; false (and nothing stored) if one with its id exists.
    fn create_schedule(
        &self,
        schedule: StoredSchedule,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Stores a definition's schedule, replacing the schedule of that id (its slots taken stay
    /// recorded), or removes it (`None`: the definition no longer has one).
    fn put_definition_schedule(
        &self,
        id: &str,
        schedule: Option<StoredSchedule>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn schedule(&self, id: &str) -> impl Future<Output = Result<Option<StoredSchedule>>> + Send;
    /// Every schedule, by id.
    fn schedules(&self) -> impl Future<Output = Result<Vec<StoredSchedule>>> + Send;
    /// Pauses or resumes a schedule; a resumed one takes up at `place`. False for an unknown id.
    fn set_schedule_paused(
        &self,
        id: &str,
        paused: bool,
        place: Option<SchedulePlace>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Removes a schedule and the record of its slots. False for an unknown id.
    fn delete_schedule(&self, id: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Up to `limit` schedules that are not paused and have a slot due at or before `now` or a
    /// slot waiting, earliest first.
    fn due_schedules(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredSchedule>>> + Send;
    /// The earliest next slot of a schedule that is not paused.
    fn next_schedule_due(&self) -> impl Future<Output = Result<Option<DateTime<Utc>>>> + Send;
    /// Moves schedule `id` from place `from` to place `to`, recording `slot` if given, in one
    /// transaction. False, changing nothing, when the schedule is not at `from` any more
    /// (another node moved it), is paused or gone, or `slot` was recorded before.
    fn advance_schedule(
        &self,
        id: &str,
        from: &SchedulePlace,
        to: &SchedulePlace,
        slot: Option<SlotRecord>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// The last `limit` slots a schedule took, newest first.
    fn schedule_slots(
        &self,
        id: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<SlotRecord>>> + Send;
}
