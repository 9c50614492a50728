//! Schedules: who may make and change them (those who may start the process: its
//! `startable_by`, or administrators), and their views.

use baton_api_model as api;
use baton_core::schedule::{CatchUp, Overlap, ScheduleSpec};
use baton_core::user_task::Caller;
use baton_store::{SlotOutcome, SlotRecord, StoredSchedule};

use crate::{Result, Service, ServiceError, ServiceStore};

/// How many next slots a schedule's view lists.
const NEXT_SLOTS: usize = 5;

/// How many recent slots `show` lists.
const RECENT_SLOTS: usize = 20;

/// The most bytes of a schedule's start data, as JSON.
pub const MAX_SCHEDULE_DATA: usize = 64 * 1024;

fn slot_view(record: &SlotRecord) -> api::ScheduleSlot {
    let (outcome, instance, message) = match &record.outcome {
        SlotOutcome::Started { instance } => ("started", Some(instance.clone()), None),
        SlotOutcome::Skipped => ("skipped", None, None),
        SlotOutcome::Failed { message } => ("failed", None, Some(message.clone())),
    };
    api::ScheduleSlot {
        slot: record.slot,
        outcome: outcome.to_owned(),
        instance,
        message,
        recorded_at: record.recorded_at,
    }
}

/// The schedule a request asks for, its fields checked.
fn spec_of(request: &api::CreateSchedule) -> Result<ScheduleSpec> {
    let invalid =
        |field: &'static str, problem: String| ServiceError::InvalidRequest { field, problem };
    let mut spec = ScheduleSpec::new(request.cron.clone());
    if let Some(zone) = &request.timezone {
        spec.timezone = zone.clone();
    }
    spec.calendar = request.calendar.clone();
    let size = serde_json::to_string(&request.data).map_or(usize::MAX, |s| s.len());
    if size > MAX_SCHEDULE_DATA {
        return Err(invalid(
            "data",
            format!(
                "the start data is {size} bytes as JSON, more than the {MAX_SCHEDULE_DATA} allowed"
            ),
        ));
    }
    spec.data = request.data.clone();
    if let Some(overlap) = &request.overlap {
        spec.overlap = Overlap::parse(overlap).ok_or_else(|| {
            invalid(
                "overlap",
                format!(
                    "`{}` is not one of {}",
                    overlap.escape_default(),
                    Overlap::NAMES.join(", ")
                ),
            )
        })?;
    }
    if let Some(catch_up) = &request.catch_up {
        spec.catch_up = CatchUp::parse(catch_up).ok_or_else(|| {
            invalid(
                "catch_up",
                format!(
                    "`{}` is not one of {}",
                    catch_up.escape_default(),
                    CatchUp::NAMES.join(", ")
                ),
            )
        })?;
    }
    if let Some(window) = &request.catch_up_window {
        spec.catch_up_window_secs = baton_core::duration::parse(window)
            .map_err(|e| {
                invalid(
                    "catch_up_window",
                    format!("`{}`: {e}", window.escape_default()),
                )
            })?
            .as_secs();
    }
    Ok(spec)
}

impl<S: ServiceStore> Service<S> {
    async fn schedule_view(
        &self,
        schedule: &StoredSchedule,
        recent: usize,
    ) -> Result<api::Schedule> {
        let next_slots = self.engine.next_slots(schedule, NEXT_SLOTS).await?;
        let recent_slots = if recent > 0 {
            self.engine
                .store()
                .schedule_slots(&schedule.id, recent)
                .await?
                .iter()
                .map(slot_view)
                .collect()
        } else {
            Vec::new()
        };
        let spec = &schedule.spec;
        Ok(api::Schedule {
            id: schedule.id.clone(),
            process: schedule.process.clone(),
            cron: spec.cron.clone(),
            timezone: spec.timezone.clone(),
            calendar: spec.calendar.clone(),
            data: spec.data.clone(),
            overlap: spec.overlap.name().to_owned(),
            catch_up: spec.catch_up.name().to_owned(),
            catch_up_window_secs: spec.catch_up_window_secs,
            from_definition: schedule.from_definition,
            created_by: schedule.created_by.clone(),
            created_at: schedule.created_at,
            paused: schedule.paused,
            next_slots,
            last_instance: schedule.place.last_instance.clone(),
            buffered: schedule.place.buffered,
            recent_slots,
        })
    }

    /// The schedule `id`, which `caller` may change: they may start its process.
    async fn schedule_to_change(&self, caller: &Caller, id: &str) -> Result<StoredSchedule> {
        let schedule = self.engine.schedule(id).await?;
        self.may_start(caller, &schedule.process, None).await?;
        Ok(schedule)
    }

    /// Makes a schedule for a process the caller may start.
    pub async fn create_schedule(
        &self,
        user: &str,
        request: &api::CreateSchedule,
    ) -> Result<api::Schedule> {
        let caller = self.authenticate(user).await?;
        let spec = spec_of(request)?;
        self.may_start(&caller, &request.process, None).await?;
        let schedule = self
            .engine
            .create_schedule(request.id.as_deref(), &request.process, spec, &caller.user)
            .await?;
        self.schedule_view(&schedule, 0).await
    }

    /// Every schedule, by id, with its next slots.
    pub async fn schedules(&self, user: &str) -> Result<Vec<api::Schedule>> {
        self.authenticate(user).await?;
        let mut out = Vec::new();
        for schedule in self.engine.store().schedules().await? {
            out.push(self.schedule_view(&schedule, 0).await?);
        }
        Ok(out)
    }

    /// One schedule with its next slots and the slots it took last.
    pub async fn schedule(&self, user: &str, id: &str) -> Result<api::Schedule> {
        self.authenticate(user).await?;
        let schedule = self.engine.schedule(id).await?;
        self.schedule_view(&schedule, RECENT_SLOTS).await
    }

    pub async fn pause_schedule(&self, user: &str, id: &str) -> Result<api::Schedule> {
        let caller = self.authenticate(user).await?;
        self.schedule_to_change(&caller, id).await?;
        let schedule = self.engine.pause_schedule(id).await?;
        self.schedule_view(&schedule, 0).await
    }

    pub async fn resume_schedule(&self, user: &str, id: &str) -> Result<api::Schedule> {
        let caller = self.authenticate(user).await?;
        self.schedule_to_change(&caller, id).await?;
        let schedule = self.engine.resume_schedule(id).await?;
        self.schedule_view(&schedule, 0).await
    }

    /// Starts the schedule's process now with its data.
    pub async fn trigger_schedule(&self, user: &str, id: &str) -> Result<api::Instance> {
        let caller = self.authenticate(user).await?;
        self.schedule_to_change(&caller, id).await?;
        let instance = self.engine.trigger_schedule(id).await?;
        self.view_of(&instance).await
    }

    pub async fn delete_schedule(&self, user: &str, id: &str) -> Result<()> {
        let caller = self.authenticate(user).await?;
        self.schedule_to_change(&caller, id).await?;
        Ok(self.engine.delete_schedule(id).await?)
    }
}
