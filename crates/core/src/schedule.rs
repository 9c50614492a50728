//! Schedules: a process started at the slots of a cron expression, in a time zone, on the
//! days of a business calendar (Automic's Calendar Events), like Temporal's schedules and
//! Airflow's `schedule` with `catchup`.
//!
//! A schedule is written in a definition (`schedule: {cron, timezone, calendar, data,
//! overlap, catch_up, catch_up_window}`) or made on its own for a process. Its **slots** are
//! the occurrences of its cron expression (parsed by the `croner` crate, read on the wall
//! clock of its time zone) on days its calendar includes.
//!
//! - **Overlap**: what a slot does while the instance the schedule started last is still
//!   open: `skip` it (the default), `allow` a second instance, or `buffer_one`: keep one slot
//!   that starts as soon as that instance ends (a further slot meanwhile is skipped).
//! - **Catch-up**: what happens to slots that came due while no Baton was running to start
//!   them (found later than [`ON_TIME`] after their time): `skip` them, run `once` (only the
//!   latest of them, the default), or run `all` of them, in order. Either way, a slot older
//!   than the `catch_up_window` (default one day) is not run.
//!
//! Everything here is pure; the engine keeps the schedule's place and starts the instances.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a slot does while the instance the schedule started last is still open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// The slot is skipped.
    #[default]
    Skip,
    /// A second instance starts.
    Allow,
    /// The slot waits and starts once that instance ended; one slot waits at most.
    BufferOne,
}

/// What happens to slots that came due while no Baton was running to start them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// They are not run.
    Skip,
    /// Only the latest of them runs.
    #[default]
    Once,
    /// Every one of them runs, in order.
    All,
}

impl Overlap {
    pub const NAMES: &'static [&'static str] = &["skip", "allow", "buffer_one"];

    pub fn name(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Allow => "allow",
            Self::BufferOne => "buffer_one",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "skip" => Some(Self::Skip),
            "allow" => Some(Self::Allow),
            "buffer_one" => Some(Self::BufferOne),
            _ => None,
        }
    }
}

impl CatchUp {
    pub const NAMES: &'static [&'static str] = &["skip", "once", "all"];

    pub fn name(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Once => "once",
            Self::All => "all",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "skip" => Some(Self::Skip),
            "once" => Some(Self::Once),
            "all" => Some(Self::All),
            _ => None,
        }
    }
}

/// A slot found at most this long after its time is on time; a later one was missed (no
/// Baton was running at its time) and follows the catch-up policy.
pub const ON_TIME: Duration = Duration::minutes(1);

/// The catch-up window when none is given: one day.
pub const DEFAULT_CATCH_UP_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The longest catch-up window: a year.
pub const MAX_CATCH_UP_WINDOW: std::time::Duration =
    std::time::Duration::from_secs(366 * 24 * 3600);

/// The longest cron expression accepted.
pub const MAX_CRON_LEN: usize = 256;

/// How many occurrences of the cron expression are looked at to find the next slot (the
/// calendar may exclude many): beyond that the schedule has no next slot.
const MAX_PROBES: usize = 4096;

/// The most slots one look at a schedule takes as due: a schedule that missed more than this
/// treats the older ones as outside its catch-up window.
pub const MAX_DUE: usize = 1024;

/// A schedule as written: what to start and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// The cron expression (five fields, six with seconds first, or a nickname as `@daily`).
    pub cron: String,
    /// An IANA zone name (`Europe/Berlin`); the cron expression is read on its wall clock.
    #[serde(default = "utc_name")]
    pub timezone: String,
    /// Only slots on days of this deployed calendar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
    /// The start data of every instance.
    #[serde(default)]
    pub data: Map<String, Value>,
    #[serde(default)]
    pub overlap: Overlap,
    #[serde(default)]
    pub catch_up: CatchUp,
    /// Slots older than this are not run, whatever the catch-up policy; in seconds.
    #[serde(default = "default_window_secs")]
    pub catch_up_window_secs: u64,
}

fn utc_name() -> String {
    "UTC".to_owned()
}

fn default_window_secs() -> u64 {
    DEFAULT_CATCH_UP_WINDOW.as_secs()
}

/// Why a schedule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{cron}` is not a cron expression: {message}")]
    Cron { cron: String, message: String },
    #[error("the cron expression is longer than {MAX_CRON_LEN} characters")]
    CronTooLong,
    #[error("`{0}` is not a time zone (an IANA name such as `Europe/Berlin` or `UTC`)")]
    Timezone(String),
    #[error("the catch-up window must be from 1 second to 366 days")]
    Window,
    #[error("`{0}` is not a calendar id")]
    Calendar(String),
}

/// A schedule's slots: its cron expression read in its time zone.
#[derive(Debug, Clone)]
pub struct Slots {
    cron: croner::Cron,
    zone: Tz,
}

impl ScheduleSpec {
    /// A schedule of `cron` in UTC with the defaults.
    pub fn new(cron: impl Into<String>) -> Self {
        Self {
            cron: cron.into(),
            timezone: utc_name(),
            calendar: None,
            data: Map::new(),
            overlap: Overlap::default(),
            catch_up: CatchUp::default(),
            catch_up_window_secs: default_window_secs(),
        }
    }

    /// Checks the schedule and returns its slots.
    pub fn check(&self) -> Result<Slots, ScheduleError> {
        if self.cron.len() > MAX_CRON_LEN {
            return Err(ScheduleError::CronTooLong);
        }
        let cron = croner::Cron::from_str(&self.cron).map_err(|e| ScheduleError::Cron {
            cron: self.cron.clone(),
            message: e.to_string(),
        })?;
        let zone = Tz::from_str(&self.timezone)
            .map_err(|_| ScheduleError::Timezone(self.timezone.clone()))?;
        if self.catch_up_window_secs == 0
            || self.catch_up_window_secs > MAX_CATCH_UP_WINDOW.as_secs()
        {
            return Err(ScheduleError::Window);
        }
        if let Some(calendar) = &self.calendar {
            if calendar.is_empty()
                || calendar.len() > crate::definition::MAX_ID_LEN
                || calendar
                    .chars()
                    .any(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(c)))
            {
                return Err(ScheduleError::Calendar(calendar.clone()));
            }
        }
        Ok(Slots { cron, zone })
    }

    pub fn catch_up_window(&self) -> Duration {
        Duration::seconds(i64::try_from(self.catch_up_window_secs).unwrap_or(i64::MAX))
    }
}

impl Slots {
    /// The first slot strictly after `after` on a day `on_day` allows (the schedule's calendar;
    /// it is asked about the slot's instant). `None` when the expression has no further
    /// occurrence, or none of the next ones is on an allowed day.
    pub fn next_after(
        &self,
        after: DateTime<Utc>,
        on_day: &dyn Fn(DateTime<Utc>) -> bool,
    ) -> Option<DateTime<Utc>> {
        let mut from = after.with_timezone(&self.zone);
        for _ in 0..MAX_PROBES {
            let next = self.cron.find_next_occurrence(&from, false).ok()?;
            let at = next.with_timezone(&Utc);
            if on_day(at) {
                return Some(at);
            }
            from = next;
        }
        None
    }

    /// The slots from `first` (itself a slot) up to `now`, oldest first, at most [`MAX_DUE`]
    /// of them (the newest), and the first slot after `now`.
    pub fn due(
        &self,
        first: DateTime<Utc>,
        now: DateTime<Utc>,
        on_day: &dyn Fn(DateTime<Utc>) -> bool,
    ) -> (Vec<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let mut due = std::collections::VecDeque::new();
        let mut next = Some(first);
        while let Some(at) = next.filter(|at| *at <= now) {
            if due.len() == MAX_DUE {
                due.pop_front();
            }
            due.push_back(at);
            next = self.next_after(at, on_day);
        }
        (due.into(), next)
    }
}

/// Which of the `due` slots (oldest first, none after `now`) are run, by the catch-up
/// policy: on-time slots always; missed ones as `policy` says, within `window`.
pub fn to_run(
    policy: CatchUp,
    window: Duration,
    due: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let on_time = |at: &DateTime<Utc>| now - *at <= ON_TIME;
    let in_window = |at: &DateTime<Utc>| now - *at <= window;
    match policy {
        CatchUp::Skip => due.iter().copied().filter(on_time).collect(),
        CatchUp::Once => due.last().copied().filter(in_window).into_iter().collect(),
        CatchUp::All => due.iter().copied().filter(in_window).collect(),
    }
}

/// What a slot does, given whether the instance the schedule started last is still open and
/// whether a slot is already waiting for it to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotAction {
    Start,
    /// Skipped: the last instance is still open.
    Skip,
    /// Waits for the last instance to end.
    Buffer,
}

pub fn on_overlap(overlap: Overlap, last_open: bool, buffered: bool) -> SlotAction {
    match (last_open, overlap) {
        (false, _) | (true, Overlap::Allow) => SlotAction::Start,
        (true, Overlap::Skip) => SlotAction::Skip,
        (true, Overlap::BufferOne) if buffered => SlotAction::Skip,
        (true, Overlap::BufferOne) => SlotAction::Buffer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn any_day(_: DateTime<Utc>) -> bool {
        true
    }

    #[test]
    fn slots_are_read_on_the_wall_clock_of_the_time_zone() {
        let spec = ScheduleSpec {
            timezone: "Europe/Berlin".into(),
            ..ScheduleSpec::new("0 2 * * *")
        };
        let slots = spec.check().unwrap();
        // 02:00 in Berlin is 01:00 UTC in winter.
        assert_eq!(
            slots.next_after(at("2026-12-08T12:00:00Z"), &any_day),
            Some(at("2026-12-09T01:00:00Z"))
        );
    }

    #[test]
    fn a_calendar_restricts_the_slots_to_its_days() {
        let slots = ScheduleSpec::new("0 2 * * *").check().unwrap();
        // 2026-12-12 is a Saturday: only weekdays allowed.
        let weekdays = |t: DateTime<Utc>| chrono::Datelike::weekday(&t).num_days_from_monday() < 5;
        assert_eq!(
            slots.next_after(at("2026-12-11T03:00:00Z"), &weekdays),
            Some(at("2026-12-14T02:00:00Z"))
        );
    }

    #[test]
    fn a_calendar_without_days_leaves_no_next_slot() {
        let slots = ScheduleSpec::new("0 2 * * *").check().unwrap();
        assert_eq!(
            slots.next_after(at("2026-12-11T03:00:00Z"), &|_| false),
            None
        );
    }

    #[test]
    fn bad_cron_time_zone_and_window_are_refused() {
        assert!(matches!(
            ScheduleSpec::new("61 * * * *").check(),
            Err(ScheduleError::Cron { .. })
        ));
        assert!(matches!(
            ScheduleSpec {
                timezone: "Mars/Base".into(),
                ..ScheduleSpec::new("* * * * *")
            }
            .check(),
            Err(ScheduleError::Timezone(_))
        ));
        assert!(matches!(
            ScheduleSpec {
                catch_up_window_secs: 0,
                ..ScheduleSpec::new("* * * * *")
            }
            .check(),
            Err(ScheduleError::Window)
        ));
        assert!(matches!(
            ScheduleSpec {
                calendar: Some("a b".into()),
                ..ScheduleSpec::new("* * * * *")
            }
            .check(),
            Err(ScheduleError::Calendar(_))
        ));
    }

    #[test]
    fn due_lists_the_slots_up_to_now_and_the_next_one() {
        let slots = ScheduleSpec::new("0 * * * *").check().unwrap();
        let (due, next) = slots.due(
            at("2026-12-08T01:00:00Z"),
            at("2026-12-08T03:30:00Z"),
            &any_day,
        );
        assert_eq!(
            due,
            vec![
                at("2026-12-08T01:00:00Z"),
                at("2026-12-08T02:00:00Z"),
                at("2026-12-08T03:00:00Z")
            ]
        );
        assert_eq!(next, Some(at("2026-12-08T04:00:00Z")));
    }

    #[test]
    fn catch_up_skip_runs_only_slots_found_on_time() {
        let due = [at("2026-12-08T01:00:00Z"), at("2026-12-08T02:00:00Z")];
        assert_eq!(
            to_run(
                CatchUp::Skip,
                Duration::days(1),
                &due,
                at("2026-12-08T02:00:30Z")
            ),
            vec![due[1]]
        );
        assert!(to_run(
            CatchUp::Skip,
            Duration::days(1),
            &due,
            at("2026-12-08T02:30:00Z")
        )
        .is_empty());
    }

    #[test]
    fn catch_up_once_runs_the_latest_missed_slot() {
        let due = [at("2026-12-08T01:00:00Z"), at("2026-12-08T02:00:00Z")];
        assert_eq!(
            to_run(
                CatchUp::Once,
                Duration::days(1),
                &due,
                at("2026-12-08T05:00:00Z")
            ),
            vec![due[1]]
        );
    }

    #[test]
    fn catch_up_all_runs_every_missed_slot_within_the_window() {
        let due = [
            at("2026-12-08T01:00:00Z"),
            at("2026-12-08T02:00:00Z"),
            at("2026-12-08T03:00:00Z"),
        ];
        assert_eq!(
            to_run(
                CatchUp::All,
                Duration::hours(2),
                &due,
                at("2026-12-08T04:00:00Z")
            ),
            vec![due[1], due[2]]
        );
        assert!(to_run(
            CatchUp::Once,
            Duration::minutes(30),
            &due,
            at("2026-12-08T04:00:00Z")
        )
        .is_empty());
    }

    #[test]
    fn overlap_policies() {
        assert_eq!(on_overlap(Overlap::Skip, false, false), SlotAction::Start);
        assert_eq!(on_overlap(Overlap::Skip, true, false), SlotAction::Skip);
        assert_eq!(on_overlap(Overlap::Allow, true, false), SlotAction::Start);
        assert_eq!(
            on_overlap(Overlap::BufferOne, true, false),
            SlotAction::Buffer
        );
        assert_eq!(on_overlap(Overlap::BufferOne, true, true), SlotAction::Skip);
    }
}
