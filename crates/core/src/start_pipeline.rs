//! Automic's start pipeline: the checks every task passes, in the seed's order, once all its
//! direct predecessors have ended:
//!
//! 1. breakpoint → `blocked` until cleared;
//! 2. calendar condition → `ended_inactive` on a day not in the calendar(s);
//! 3. earliest start time → `waiting_for_start_time` on a durable timer;
//! 4. active flag → `ended_inactive` when `active: false`;
//! 5. preconditions → checked every `check_interval` until they hold (or their else action);
//! 6. predecessor end statuses (dependencies) → the else action when not met;
//! 7. latest start / latest end with the expected runtime (ERT) → `ended_timeout`, then `on_timeout`;
//! 8. prompt sets → `waiting_for_user_input` until the values are given;
//! 9. generation (at activation, or now), then the task starts.
//!
//! A task parked at a stage resumes at the next stage when its timer fires, its breakpoint is
//! cleared or its input arrives.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::command::TimerKind;
use crate::definition::{Action, DependencyMatch, EndAs, TaskKind};
use crate::event::EventKind;
use crate::machine::{Machine, TransitionError};
use crate::status::{InstanceStatus, Reason, TaskStatus};

/// The stages of the start pipeline, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    Breakpoint,
    Calendar,
    EarliestStart,
    Active,
    Preconditions,
    Dependencies,
    LatestTimes,
    Prompts,
    Start,
}

/// The outcome of checking the preconditions.
enum PreconditionOutcome {
    Hold,
    Wait(DateTime<Utc>, Reason),
    Act(Action, Reason),
}

impl Machine<'_> {
    /// Runs task `i`'s start pipeline from `from` on; stops where the task must wait.
    pub(crate) fn pipeline(&mut self, i: usize, from: Stage) {
        let controls = &self.def.tasks[i].controls;
        if from <= Stage::Breakpoint && self.inst.tasks[i].breakpoint.unwrap_or(controls.breakpoint)
        {
            self.set_task(i, TaskStatus::Blocked, Some(Reason::Breakpoint));
            return;
        }
        if from <= Stage::Calendar && !controls.calendars.is_empty() {
            match self.in_calendars(i) {
                Ok(true) => {}
                Ok(false) => {
                    let day = self
                        .now
                        .with_timezone(&self.zone(i))
                        .date_naive()
                        .to_string();
                    let reason = Reason::NotInCalendar {
                        calendars: controls.calendars.clone(),
                        day,
                    };
                    self.set_task(i, TaskStatus::EndedInactive, Some(reason));
                    return;
                }
                Err(reason) => return self.fail(i, reason),
            }
        }
        if from <= Stage::EarliestStart {
            if let Some(spec) = &controls.earliest_start {
                let at = spec.resolve(self.inst.created_at, self.zone(i));
                if self.now < at {
                    self.set_task(
                        i,
                        TaskStatus::WaitingForStartTime { until: at },
                        Some(Reason::EarliestStart { at }),
                    );
                    self.set_timer(i, TimerKind::EarliestStart, at);
                    return;
                }
            }
        }
        if from <= Stage::Active && !controls.active {
            self.set_task(i, TaskStatus::EndedInactive, Some(Reason::Inactive));
            return;
        }
        if from <= Stage::Preconditions {
            match self.check_preconditions(i) {
                PreconditionOutcome::Hold => {}
                PreconditionOutcome::Wait(next_check, reason) => {
                    // "This process ends if the final action of the latest start time has been reached."
                    if let Some(reason) = self.latest_start_passed(i) {
                        return self.time_out(i, reason);
                    }
                    self.set_task(
                        i,
                        TaskStatus::WaitingForPrecondition { next_check },
                        Some(reason),
                    );
                    self.set_timer(i, TimerKind::PreconditionCheck, next_check);
                    return;
                }
                PreconditionOutcome::Act(action, reason) => {
                    return self.else_action(i, action, reason)
                }
            }
        }
        if from <= Stage::Dependencies {
            if let Some((action, reason)) = self.unmet_dependency(i) {
                return self.dependency_else(i, action, reason);
            }
        }
        if from <= Stage::LatestTimes {
            if let Some(reason) = self
                .latest_start_passed(i)
                .or_else(|| self.would_end_too_late(i))
            {
                return self.time_out(i, reason);
            }
        }
        if from <= Stage::Prompts {
            let missing: Vec<String> = self.def.tasks[i]
                .controls
                .prompts
                .iter()
                .filter(|p| {
                    let value = self.data_value(&p.name).filter(|v| !v.is_null());
                    // A value outside the prompt's choices (given at start, or written by a task) is asked again.
                    match value {
                        None => p.required,
                        Some(v) => !p.choices.is_empty() && !p.choices.contains(v),
                    }
                })
                .map(|p| p.name.clone())
                .collect();
            if !missing.is_empty() {
                self.set_task(
                    i,
                    TaskStatus::WaitingForUserInput,
                    Some(Reason::WaitingForInput { prompts: missing }),
                );
                return;
            }
        }
        self.start_task(i);
    }

    /// The zone a task's times of day are read in: its own, else its first calendar's, else UTC.
    pub(crate) fn zone(&self, i: usize) -> chrono_tz::Tz {
        let controls = &self.def.tasks[i].controls;
        controls
            .timezone
            .or_else(|| {
                controls
                    .calendars
                    .first()
                    .and_then(|c| self.knowledge.calendars.get(c))
                    .map(|c| c.timezone)
            })
            .unwrap_or(chrono_tz::UTC)
    }

    /// Is today a day of (any of) the task's calendars?
    fn in_calendars(&self, i: usize) -> Result<bool, Reason> {
        let lookup = |name: &str| self.knowledge.calendars.get(name).cloned();
        for name in &self.def.tasks[i].controls.calendars {
            let calendar = lookup(name).ok_or_else(|| Reason::UnknownCalendar {
                calendar: name.clone(),
            })?;
            match calendar.contains(self.now, &lookup) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(crate::calendar::CalendarError::Unknown { calendar, .. }) => {
                    return Err(Reason::UnknownCalendar { calendar })
                }
                Err(e) => {
                    return Err(Reason::CalendarProblem {
                        message: e.to_string(),
                    })
                }
            }
        }
        Ok(false)
    }

    fn check_preconditions(&self, i: usize) -> PreconditionOutcome {
        let Some(pre) = &self.def.tasks[i].controls.preconditions else {
            return PreconditionOutcome::Hold;
        };
        // In a ForEach body, `once: true` evaluates the preconditions in the first iteration only.
        if pre.once && self.inst.iteration.as_ref().is_some_and(|it| it.index > 0) {
            return PreconditionOutcome::Hold;
        }
        let scope = self.scope_for(i);
        for condition in &pre.conditions {
            let (holds, detail) = match condition.when.eval_bool(&scope) {
                Ok(b) => (b, condition.when.source().to_owned()),
                Err(e) => (false, format!("{} ({e})", condition.when.source())),
            };
            if holds {
                continue;
            }
            let reason = Reason::PreconditionNotMet {
                condition: detail,
                action: condition.otherwise.name().to_owned(),
            };
            return match condition.otherwise {
                Action::Wait => {
                    let mut next = crate::timestamp::after(self.now, pre.check_interval);
                    // Check once more just after the latest start, not a whole interval later.
                    if let Some(spec) = &self.def.tasks[i].controls.latest_start {
                        next = next.min(crate::timestamp::after(
                            spec.resolve(self.inst.created_at, self.zone(i)),
                            std::time::Duration::from_millis(1),
                        ));
                    }
                    PreconditionOutcome::Wait(next, reason)
                }
                other => PreconditionOutcome::Act(other, reason),
            };
        }
        PreconditionOutcome::Hold
    }

    /// The first dependency that does not hold, with the else action to take.
    fn unmet_dependency(&self, i: usize) -> Option<(Action, Reason)> {
        let task = &self.def.tasks[i];
        let accepted = |p: &crate::definition::Dependency| {
            p.condition.accepts(&self.inst.tasks[p.task].status)
        };
        let met = match task.dependency_match {
            DependencyMatch::All => task.predecessors.iter().all(accepted),
            DependencyMatch::One => {
                task.predecessors.is_empty() || task.predecessors.iter().any(accepted)
            }
        };
        if met {
            return None;
        }
        let failing = task.predecessors.iter().find(|p| !accepted(p))?;
        let reason = Reason::DependencyNotMet {
            task: self.def.tasks[failing.task].id.clone(),
            status: self.inst.tasks[failing.task].status.name().to_owned(),
            expected: failing.condition.to_string(),
            action: task.on_unmet.name().to_owned(),
        };
        Some((task.on_unmet, reason))
    }

    fn latest_start_passed(&self, i: usize) -> Option<Reason> {
        let spec = self.def.tasks[i].controls.latest_start.as_ref()?;
        let latest_start = spec.resolve(self.inst.created_at, self.zone(i));
        (self.now > latest_start).then_some(Reason::LatestStartPassed { latest_start })
    }

    /// Automic: "its expected runtime (ERT) can serve as a basis for calculating the expected
    /// end time. If the result exceeds the defined time, the task is not executed".
    fn would_end_too_late(&self, i: usize) -> Option<Reason> {
        let controls = &self.def.tasks[i].controls;
        let latest_end = controls
            .latest_end
            .as_ref()?
            .resolve(self.inst.created_at, self.zone(i));
        let ert = self
            .knowledge
            .expected_runtimes
            .get(&self.def.tasks[i].id)
            .copied()
            .or(controls.expected_runtime)
            .unwrap_or_default();
        let expected_end = crate::timestamp::after(self.now, ert);
        (expected_end > latest_end).then_some(Reason::WouldEndTooLate {
            expected_end,
            latest_end,
            expected_runtime_ms: ert.as_millis() as u64,
        })
    }

    /// The task ends `ended_timeout` without running; then its `on_timeout` else action.
    fn time_out(&mut self, i: usize, reason: Reason) {
        match self.def.tasks[i].controls.on_timeout {
            Action::Block => self.set_task(i, TaskStatus::Blocked, Some(reason)),
            Action::Abort => {
                self.set_task(i, TaskStatus::EndedTimeout, Some(reason.clone()));
                self.end_instance(InstanceStatus::Aborted, Some(reason));
            }
            Action::Run(other) => {
                self.set_task(i, TaskStatus::EndedTimeout, Some(reason));
                self.trigger(other, i, "on_timeout");
            }
            _ => self.set_task(i, TaskStatus::EndedTimeout, Some(reason)),
        }
    }

    /// Automic's Else: what happens to a task whose preconditions or dependencies fail.
    pub(crate) fn else_action(&mut self, i: usize, action: Action, reason: Reason) {
        match action {
            Action::Skip => self.set_task(i, TaskStatus::EndedSkipped, Some(reason)),
            Action::Block => self.set_task(i, TaskStatus::Blocked, Some(reason)),
            Action::Abort => self.end_instance(InstanceStatus::Aborted, Some(reason)),
            Action::Run(other) => {
                self.set_task(i, TaskStatus::EndedSkipped, Some(reason));
                self.trigger(other, i, "else");
            }
            Action::End(EndAs::Ok) => self.set_task(i, TaskStatus::EndedOk, Some(reason)),
            Action::End(EndAs::NotOk) => self.set_task(i, TaskStatus::EndedNotOk, Some(reason)),
            Action::Wait | Action::Cancel | Action::Alert | Action::Restart | Action::Continue => {
                self.emit(Some(i), EventKind::Alert { reason });
            }
        }
    }

    /// The else action of unmet dependencies. Automic's dependency documentation: when the
    /// else action skips the task, "the task is skipped but its postconditions are executed"
    /// (before a `{run: TASK}` action starts its task, as they belong to the skipped task's end).
    fn dependency_else(&mut self, i: usize, action: Action, reason: Reason) {
        match action {
            Action::Skip | Action::Run(_) => {
                self.set_status(i, TaskStatus::EndedSkipped, Some(reason));
                self.postconditions_once(i);
                if let Action::Run(other) = action {
                    self.trigger(other, i, "else");
                }
            }
            other => self.else_action(i, other, reason),
        }
    }

    /// Starts an on-demand task because an action of task `by` said so. A task that already
    /// ended runs again; one that is under way is left alone (recorded as an alert).
    pub(crate) fn trigger(&mut self, target: usize, by: usize, rule: &str) {
        let reason = Reason::Triggered {
            by: self.def.tasks[by].id.clone(),
            via: rule.to_owned(),
        };
        let state = &self.inst.tasks[target];
        // Under way: anything but an end status, unless it is an on-demand task nothing started
        // yet. (A task that is not on demand is under way too: running it again now would
        // dispatch a second attempt beside the running one.)
        let on_hold = self.def.tasks[target].controls.on_demand && !state.triggered;
        // A task started by an action at most once per transition: actions that start each
        // other (or a postcondition that starts its own task) cannot loop inside the engine.
        if (!on_hold && !state.status.is_end()) || self.triggered.contains(&target) {
            self.emit(Some(target), EventKind::Alert { reason });
            return;
        }
        self.triggered.push(target);
        self.inst.tasks[target].triggered = true;
        self.inst.tasks[target].post_checked = false;
        self.set_task(target, TaskStatus::WaitingForPredecessor, Some(reason));
    }

    pub(crate) fn timer_fired(
        &mut self,
        task: &str,
        timer: TimerKind,
    ) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        match (timer, &self.inst.tasks[i].status) {
            (TimerKind::EarliestStart, TaskStatus::WaitingForStartTime { .. }) => {
                self.pipeline(i, Stage::Active)
            }
            (TimerKind::PreconditionCheck, TaskStatus::WaitingForPrecondition { .. }) => {
                self.pipeline(i, Stage::Preconditions)
            }
            (
                TimerKind::MaxRuntime { attempt },
                TaskStatus::Running {
                    attempt: running, ..
                },
            ) if attempt == *running => self.max_runtime_exceeded(i, attempt),
            (TimerKind::JobRetry, TaskStatus::WaitingForRetry { .. }) => self.retry_job(i),
            (TimerKind::LaunchIterations, TaskStatus::Running { .. }) => self.launch_timer_fired(i),
            (TimerKind::EventTimeout { attempt }, TaskStatus::WaitingForEvent { .. })
                if attempt == self.inst.tasks[i].attempts =>
            {
                self.event_timed_out(i)
            }
            // The task moved on (skipped, retried, finished): the timer is stale.
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn set_breakpoint(
        &mut self,
        task: &str,
        enabled: bool,
        by: &str,
    ) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        self.inst.tasks[i].breakpoint = Some(enabled);
        self.emit(
            Some(i),
            EventKind::BreakpointChanged {
                enabled,
                by: by.to_owned(),
            },
        );
        if !enabled
            && self.inst.tasks[i].status == TaskStatus::Blocked
            && self.inst.tasks[i].reason == Some(Reason::Breakpoint)
        {
            self.pipeline(i, Stage::Calendar);
        }
        Ok(())
    }

    pub(crate) fn provide_input(
        &mut self,
        task: &str,
        values: Map<String, Value>,
        by: &str,
    ) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        if matches!(self.def.tasks[i].kind, crate::definition::TaskKind::View(_)) {
            return Err(TransitionError::IsAView {
                task: task.to_owned(),
            });
        }
        if self.inst.tasks[i].status != TaskStatus::WaitingForUserInput {
            return Err(TransitionError::NotWaitingForInput {
                task: task.to_owned(),
                status: self.inst.tasks[i].status.name().to_owned(),
            });
        }
        let prompts = &self.def.tasks[i].controls.prompts;
        let mut problems = Vec::new();
        for (name, value) in &values {
            let Some(prompt) = prompts.iter().find(|p| &p.name == name) else {
                let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
                problems.push(format!(
                    "task `{task}` has no prompt `{name}` (its prompts: {})",
                    names.join(", ")
                ));
                continue;
            };
            let decl = &self.def.data[name];
            if value.is_null() || !decl.ty.admits(value) {
                problems.push(format!(
                    "`{name}` must be {}, got {}",
                    decl.ty.described(),
                    crate::definition::json_type_name(value)
                ));
            } else if !prompt.choices.is_empty() && !prompt.choices.contains(value) {
                let choices: Vec<String> = prompt.choices.iter().map(ToString::to_string).collect();
                problems.push(format!("`{name}` must be one of {}", choices.join(", ")));
            }
        }
        for prompt in prompts.iter().filter(|p| p.required) {
            let given = values
                .get(&prompt.name)
                .or_else(|| self.data_value(&prompt.name))
                .is_some_and(|v| !v.is_null());
            if !given {
                problems.push(format!(
                    "`{}` is required{}",
                    prompt.name,
                    prompt
                        .label
                        .as_ref()
                        .map(|l| format!(" ({l})"))
                        .unwrap_or_default()
                ));
            }
        }
        if !problems.is_empty() {
            return Err(TransitionError::InvalidData(problems));
        }
        self.inst.data.extend(values.clone());
        self.emit(
            Some(i),
            EventKind::InputProvided {
                values,
                by: by.to_owned(),
            },
        );
        self.pipeline(i, Stage::Start);
        Ok(())
    }

    /// Jobs set to generate at activation resolve their inputs now, when the instance starts;
    /// the others resolve them when they start (Automic: "Generating at Activation or at Runtime").
    pub(crate) fn generate_at_activation(&mut self) {
        for i in 0..self.def.tasks.len() {
            if let (true, TaskKind::Job(spec)) = (
                self.def.tasks[i].controls.generate_at_activation,
                &self.def.tasks[i].kind,
            ) {
                let generated = self.evaluate_env(i, spec);
                self.inst.tasks[i].generated = Some(generated);
            }
        }
    }
}
