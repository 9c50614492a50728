//! Schedules through the engine (see [`baton_core::schedule`]): creating and changing them,
//! and firing their due slots on the engine's clock.
//!
//! A slot starts its instance under the idempotency key `schedule:ID:SLOT`, then moves the
//! schedule's place past it and records it, by compare-and-set. So two nodes firing the same
//! slot start one instance (the key is taken once) and record the slot once; a node that
//! crashed between the start and the record finds the instance started when it, or another
//! node, fires the slot again.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use baton_core::calendar::Calendar;
use baton_core::schedule::{on_overlap, to_run, ScheduleSpec, SlotAction, Slots};
use baton_core::Instance;
use baton_store::{SchedulePlace, SlotOutcome, SlotRecord, Store, StoredSchedule};

use crate::{Engine, EngineError, ErrorKind};

/// How many moves one look at a schedule makes at most (slots started, skipped, buffered).
const MOVES_PER_LOOK: usize = 64;

/// The deployed calendars, by id.
pub(crate) type Calendars = HashMap<String, Arc<Calendar>>;

/// Whether a slot's day is in the schedule's calendar. A calendar that is not deployed does
/// not restrict the slots here: such a slot is recorded as failed when it comes.
fn day_filter<'c>(
    spec: &'c ScheduleSpec,
    calendars: &'c Calendars,
) -> impl Fn(DateTime<Utc>) -> bool + 'c {
    move |at| match spec.calendar.as_ref().and_then(|id| calendars.get(id)) {
        Some(calendar) => calendar
            .contains(at, &|id: &str| calendars.get(id).cloned())
            .unwrap_or(false),
        None => true,
    }
}

impl<S: Store> Engine<S> {
    /// Checks a schedule for `process` and stores it: its first slot is the first after now.
    /// `id` defaults to the process id and a random suffix.
    pub async fn create_schedule(
        &self,
        id: Option<&str>,
        process: &str,
        spec: ScheduleSpec,
        by: &str,
    ) -> Result<StoredSchedule, EngineError> {
        self.definition(process, None).await?;
        let id = match id {
            Some(id) => id.to_owned(),
            // The random end of a fresh id (its start is the time).
            None => format!(
                "{process}-{}",
                &uuid::Uuid::now_v7().simple().to_string()[24..]
            ),
        };
        if let Err((message, _)) = baton_core::definition::check_id("schedule", &id) {
            return Err(EngineError::InvalidSchedule(message));
        }
        let calendars = self.checked_calendars(&spec).await?;
        let now = self.now();
        let next_at = spec
            .check()?
            .next_after(now, &day_filter(&spec, &calendars));
        let schedule = StoredSchedule {
            id: id.clone(),
            process: process.to_owned(),
            spec,
            from_definition: false,
            created_by: by.to_owned(),
            created_at: now,
            paused: false,
            place: SchedulePlace {
                next_at,
                ..SchedulePlace::default()
            },
        };
        if !self.inner.store.create_schedule(schedule.clone()).await? {
            return Err(EngineError::ScheduleExists(id));
        }
        Ok(schedule)
    }

    /// The deployed calendars, when `spec` names one, which must be among them.
    async fn checked_calendars(&self, spec: &ScheduleSpec) -> Result<Calendars, EngineError> {
        let Some(id) = &spec.calendar else {
            return Ok(Calendars::new());
        };
        let calendars = self.deployed_calendars().await?;
        if !calendars.contains_key(id) {
            return Err(EngineError::InvalidSchedule(format!(
                "calendar `{id}` is not deployed; deploy it first"
            )));
        }
        Ok(calendars)
    }

    /// After a deploy: the schedule a definition declares is stored under the process id (its
    /// place kept when it did not change), and one it no longer declares is removed. A
    /// schedule of that id made by hand is left alone.
    pub(crate) async fn sync_definition_schedule(
        &self,
        process: &str,
        spec: Option<&ScheduleSpec>,
    ) -> Result<(), EngineError> {
        let existing = self.inner.store.schedule(process).await?;
        if existing.as_ref().is_some_and(|s| !s.from_definition) {
            tracing::warn!("process {process} declares a schedule, but a schedule made by hand has its id `{process}`: that one stays");
            return Ok(());
        }
        let Some(spec) = spec else {
            if existing.is_some() {
                self.inner
                    .store
                    .put_definition_schedule(process, None)
                    .await?;
            }
            return Ok(());
        };
        if existing.as_ref().is_some_and(|s| s.spec == *spec) {
            return Ok(());
        }
        let calendars = self.deployed_calendars().await?;
        if let Some(id) = spec
            .calendar
            .as_ref()
            .filter(|id| !calendars.contains_key(*id))
        {
            tracing::warn!("the schedule of process {process} names calendar `{id}`, which is not deployed: its slots fail until it is");
        }
        let now = self.now();
        let next_at = spec.check()?.next_after(now, &day_filter(spec, &calendars));
        let (paused, last_instance, created_at) = existing.map_or((false, None, now), |s| {
            (s.paused, s.place.last_instance, s.created_at)
        });
        let schedule = StoredSchedule {
            id: process.to_owned(),
            process: process.to_owned(),
            spec: spec.clone(),
            from_definition: true,
            created_by: "deploy".to_owned(),
            created_at,
            paused,
            place: SchedulePlace {
                next_at,
                last_instance,
                buffered: None,
            },
        };
        self.inner
            .store
            .put_definition_schedule(process, Some(schedule))
            .await?;
        Ok(())
    }

    pub async fn schedule(&self, id: &str) -> Result<StoredSchedule, EngineError> {
        self.inner
            .store
            .schedule(id)
            .await?
            .ok_or_else(|| EngineError::ScheduleNotFound(id.to_owned()))
    }

    /// The next `n` slots of a schedule from now (none while it is paused).
    pub async fn next_slots(
        &self,
        schedule: &StoredSchedule,
        n: usize,
    ) -> Result<Vec<DateTime<Utc>>, EngineError> {
        let Some(first) = schedule.place.next_at.filter(|_| !schedule.paused) else {
            return Ok(Vec::new());
        };
        let calendars = if schedule.spec.calendar.is_some() {
            self.deployed_calendars().await?
        } else {
            Calendars::new()
        };
        let slots = schedule.spec.check()?;
        let on_day = day_filter(&schedule.spec, &calendars);
        let mut out = vec![first];
        while out.len() < n {
            match slots.next_after(*out.last().expect("one slot at least"), &on_day) {
                Some(at) => out.push(at),
                None => break,
            }
        }
        Ok(out)
    }

    /// Pauses a schedule: no slot of it starts until it is resumed.
    pub async fn pause_schedule(&self, id: &str) -> Result<StoredSchedule, EngineError> {
        if !self.inner.store.set_schedule_paused(id, true, None).await? {
            return Err(EngineError::ScheduleNotFound(id.to_owned()));
        }
        self.schedule(id).await
    }

    /// Resumes a schedule at its first slot after now: the slots it was paused for are not run.
    pub async fn resume_schedule(&self, id: &str) -> Result<StoredSchedule, EngineError> {
        let schedule = self.schedule(id).await?;
        let calendars = if schedule.spec.calendar.is_some() {
            self.deployed_calendars().await?
        } else {
            Calendars::new()
        };
        let next_at = schedule
            .spec
            .check()?
            .next_after(self.now(), &day_filter(&schedule.spec, &calendars));
        let place = SchedulePlace {
            next_at,
            last_instance: schedule.place.last_instance,
            buffered: None,
        };
        if !self
            .inner
            .store
            .set_schedule_paused(id, false, Some(place))
            .await?
        {
            return Err(EngineError::ScheduleNotFound(id.to_owned()));
        }
        self.schedule(id).await
    }

    pub async fn delete_schedule(&self, id: &str) -> Result<(), EngineError> {
        if !self.inner.store.delete_schedule(id).await? {
            return Err(EngineError::ScheduleNotFound(id.to_owned()));
        }
        Ok(())
    }

    /// Starts a schedule's process now, with its data, whatever its slots and overlap policy
    /// (a paused schedule too); the start is recorded as a slot at now and becomes the
    /// schedule's last instance.
    pub async fn trigger_schedule(&self, id: &str) -> Result<Arc<Instance>, EngineError> {
        let schedule = self.schedule(id).await?;
        let now = self.now();
        let key = format!("schedule:{id}:trigger:{}", now.to_rfc3339());
        let (instance, _) = self
            .start_once(&schedule.process, schedule.spec.data.clone(), Some(&key))
            .await?;
        let record = SlotRecord {
            slot: now,
            outcome: SlotOutcome::Started {
                instance: instance.id.clone(),
            },
            recorded_at: now,
        };
        let mut place = schedule.place;
        for _ in 0..MOVES_PER_LOOK {
            let to = SchedulePlace {
                last_instance: Some(instance.id.clone()),
                ..place.clone()
            };
            if self
                .inner
                .store
                .advance_schedule(id, &place, &to, Some(record.clone()))
                .await?
            {
                break;
            }
            match self.inner.store.schedule(id).await? {
                // Paused: the instance runs, the schedule's place stays.
                Some(s) if !s.paused && s.place != place => place = s.place,
                _ => break,
            }
        }
        Ok(instance)
    }

    /// Fires the slots due by now of up to `limit` schedules: starts their instances (or
    /// skips or buffers a slot, by the overlap policy), by the catch-up policy for slots that
    /// came due while no Baton ran. Returns how many instances it started.
    pub async fn fire_due_schedules(&self, limit: usize) -> Result<usize, EngineError> {
        let now = self.now();
        let due = self.inner.store.due_schedules(now, limit).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let calendars = if due.iter().any(|s| s.spec.calendar.is_some()) {
            self.deployed_calendars().await?
        } else {
            Calendars::new()
        };
        let mut started = 0;
        for schedule in due {
            let id = schedule.id.clone();
            match self.fire_schedule(schedule, now, &calendars).await {
                Ok(n) => started += n,
                Err(e) => tracing::warn!("schedule {id}: {e}"),
            }
        }
        Ok(started)
    }

    async fn fire_schedule(
        &self,
        mut schedule: StoredSchedule,
        now: DateTime<Utc>,
        calendars: &Calendars,
    ) -> Result<usize, EngineError> {
        let slots = schedule.spec.check()?;
        let mut started = 0;
        for _ in 0..MOVES_PER_LOOK {
            let place = schedule.place.clone();
            let last_open = match &place.last_instance {
                Some(id) => self
                    .inner
                    .store
                    .instance(id)
                    .await?
                    .is_some_and(|i| !i.status.is_terminal()),
                None => false,
            };
            let Some((to, record)) = self
                .next_move(&schedule, &slots, now, last_open, calendars)
                .await?
            else {
                break;
            };
            let began = matches!(
                record,
                Some(SlotRecord {
                    outcome: SlotOutcome::Started { .. },
                    ..
                })
            );
            if self
                .inner
                .store
                .advance_schedule(&schedule.id, &place, &to, record)
                .await?
            {
                started += usize::from(began);
                schedule.place = to;
                continue;
            }
            // Another node moved it (or it was paused or removed): look at it as it is now.
            match self.inner.store.schedule(&schedule.id).await? {
                Some(s) if !s.paused => schedule = s,
                _ => break,
            }
        }
        Ok(started)
    }

    /// The schedule's next move at `now`: where its place goes, and the slot it records.
    async fn next_move(
        &self,
        schedule: &StoredSchedule,
        slots: &Slots,
        now: DateTime<Utc>,
        last_open: bool,
        calendars: &Calendars,
    ) -> Result<Option<(SchedulePlace, Option<SlotRecord>)>, EngineError> {
        let place = &schedule.place;
        if let Some(waiting) = place.buffered.filter(|_| !last_open) {
            let (outcome, last) = self.start_slot(schedule, waiting, calendars).await?;
            let to = SchedulePlace {
                buffered: None,
                last_instance: last.or_else(|| place.last_instance.clone()),
                next_at: place.next_at,
            };
            return Ok(Some((
                to,
                Some(SlotRecord {
                    slot: waiting,
                    outcome,
                    recorded_at: now,
                }),
            )));
        }
        let Some(next) = place.next_at.filter(|at| *at <= now) else {
            return Ok(None);
        };
        let on_day = day_filter(&schedule.spec, calendars);
        let (due, after) = slots.due(next, now, &on_day);
        let run = to_run(
            schedule.spec.catch_up,
            schedule.spec.catch_up_window(),
            &due,
            now,
        );
        let Some(&slot) = run.first() else {
            tracing::info!(
                "schedule {}: {} slot(s) missed while no Baton ran are not run (catch-up {:?})",
                schedule.id,
                due.len(),
                schedule.spec.catch_up
            );
            return Ok(Some((
                SchedulePlace {
                    next_at: after,
                    ..place.clone()
                },
                None,
            )));
        };
        let next_at = run.get(1).copied().or(after);
        let moved = match on_overlap(schedule.spec.overlap, last_open, place.buffered.is_some()) {
            SlotAction::Start => {
                let (outcome, last) = self.start_slot(schedule, slot, calendars).await?;
                let to = SchedulePlace {
                    next_at,
                    last_instance: last.or_else(|| place.last_instance.clone()),
                    buffered: place.buffered,
                };
                (
                    to,
                    Some(SlotRecord {
                        slot,
                        outcome,
                        recorded_at: now,
                    }),
                )
            }
            SlotAction::Skip => (
                SchedulePlace {
                    next_at,
                    ..place.clone()
                },
                Some(SlotRecord {
                    slot,
                    outcome: SlotOutcome::Skipped,
                    recorded_at: now,
                }),
            ),
            SlotAction::Buffer => (
                SchedulePlace {
                    next_at,
                    buffered: Some(slot),
                    ..place.clone()
                },
                None,
            ),
        };
        Ok(Some(moved))
    }

    /// Starts the instance of one slot; a start the process refuses is the slot's failure,
    /// a failure of the store is the caller's (the slot is fired again).
    async fn start_slot(
        &self,
        schedule: &StoredSchedule,
        slot: DateTime<Utc>,
        calendars: &Calendars,
    ) -> Result<(SlotOutcome, Option<String>), EngineError> {
        if let Some(id) = schedule
            .spec
            .calendar
            .as_ref()
            .filter(|id| !calendars.contains_key(*id))
        {
            return Ok((
                SlotOutcome::Failed {
                    message: format!("calendar `{id}` is not deployed"),
                },
                None,
            ));
        }
        let key = format!("schedule:{}:{}", schedule.id, slot.to_rfc3339());
        match self
            .start_once(&schedule.process, schedule.spec.data.clone(), Some(&key))
            .await
        {
            Ok((instance, _)) => Ok((
                SlotOutcome::Started {
                    instance: instance.id.clone(),
                },
                Some(instance.id.clone()),
            )),
            Err(e) if matches!(e.kind(), ErrorKind::Internal | ErrorKind::Unavailable) => Err(e),
            Err(e) => {
                tracing::warn!(
                    "schedule {}: the slot at {slot} could not start process {}: {e}",
                    schedule.id,
                    schedule.process
                );
                Ok((
                    SlotOutcome::Failed {
                        message: e.to_string(),
                    },
                    None,
                ))
            }
        }
    }
}
