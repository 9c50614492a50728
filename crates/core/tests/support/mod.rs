//! Shared by the start-pipeline and runtime-monitor tests: an instance driven through the
//! transition function with what the engine would know (learned runtimes, calendars), and a
//! tiny timer queue that fires due timers the way `Engine::fire_due_timers` does. Time only
//! moves when a test moves it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use baton_core::calendar::{parse_calendar, Calendar};
use baton_core::definition::Definition;
use baton_core::{
    apply_with, parse_definition, start_with, Command, Effect, Event, EventKind, Instance,
    InstanceStatus, JobOutcome, JobRequest, Knowledge, Reason, TaskState, TaskStatus, Transition,
    TransitionError,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Map, Value};

/// Friday 2024-03-01, 12:00 UTC (13:00 in Berlin).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap()
}

pub fn mins(n: i64) -> Duration {
    Duration::minutes(n)
}

pub fn definition(lines: &[&str]) -> Definition {
    let src = lines.join("\n");
    parse_definition("flow.yaml", &src)
        .unwrap_or_else(|e| panic!("test definition does not deploy:\n{e}\n---\n{src}"))
}

pub fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("a JSON object")
}

/// A calendar resource from YAML lines, ready for [`Knowledge::calendars`].
pub fn calendar(lines: &[&str]) -> Arc<Calendar> {
    let src = lines.join("\n");
    Arc::new(
        parse_calendar("calendar.yaml", &src)
            .unwrap_or_else(|e| panic!("test calendar does not deploy:\n{e}")),
    )
}

/// What the driver knows: these calendars and learned expected runtimes.
pub fn knowledge(calendars: &[Arc<Calendar>], ert: &[(&str, StdDuration)]) -> Knowledge {
    let mut k = Knowledge::default();
    for c in calendars {
        k.calendars.insert(c.id.clone(), c.clone());
    }
    for (task, d) in ert {
        k.expected_runtimes.insert((*task).to_owned(), *d);
    }
    k
}

/// A pending durable timer, as the engine's timers table holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingTimer {
    pub due_at: DateTime<Utc>,
    pub command: Command,
}

/// An instance driven through the transition function, with its whole history and its
/// durable timers kept.
pub struct Flow {
    pub def: Definition,
    pub inst: Instance,
    pub history: Vec<Event>,
    pub now: DateTime<Utc>,
    pub knowledge: Knowledge,
    /// key -> timer; `SetTimer` replaces, `ClearTimer` removes, firing removes.
    pub timers: BTreeMap<String, PendingTimer>,
}

impl Flow {
    pub fn start(lines: &[&str]) -> (Self, Transition) {
        Self::start_full(lines, Value::Object(Map::new()), t0(), Knowledge::default())
    }

    pub fn start_with(lines: &[&str], data: Value) -> (Self, Transition) {
        Self::start_full(lines, data, t0(), Knowledge::default())
    }

    pub fn start_full(
        lines: &[&str],
        data: Value,
        now: DateTime<Utc>,
        knowledge: Knowledge,
    ) -> (Self, Transition) {
        let def = definition(lines);
        let tr = start_with(&def, "i-1".into(), object(data), now, &knowledge)
            .expect("the instance starts");
        let mut flow = Flow {
            def,
            inst: tr.instance.clone(),
            history: tr.events.clone(),
            now,
            knowledge,
            timers: BTreeMap::new(),
        };
        flow.track_timers(&tr);
        (flow, tr)
    }

    fn track_timers(&mut self, tr: &Transition) {
        for effect in &tr.effects {
            match effect {
                Effect::SetTimer {
                    key,
                    due_at,
                    command,
                } => {
                    self.timers.insert(
                        key.clone(),
                        PendingTimer {
                            due_at: *due_at,
                            command: command.clone(),
                        },
                    );
                }
                Effect::ClearTimer { key } => {
                    self.timers.remove(key);
                }
                _ => {}
            }
        }
    }

    /// Applies a command at the current time; on success the flow moves on.
    pub fn try_apply(&mut self, command: Command) -> Result<Transition, TransitionError> {
        let tr = apply_with(&self.def, &self.inst, command, self.now, &self.knowledge)?;
        self.inst = tr.instance.clone();
        self.history.extend(tr.events.iter().cloned());
        self.track_timers(&tr);
        Ok(tr)
    }

    #[track_caller]
    pub fn apply(&mut self, command: Command) -> Transition {
        let c = format!("{command:?}");
        self.try_apply(command)
            .unwrap_or_else(|e| panic!("{c} was refused: {e}"))
    }

    /// Moves the clock forward by `by`, without firing timers.
    pub fn wait(&mut self, by: Duration) {
        self.now += by;
    }

    /// Moves the clock to `until`, firing every timer that comes due on the way, at its due
    /// time and in due order, as the engine's worker would. Returns the transitions.
    pub fn run_until(&mut self, until: DateTime<Utc>) -> Vec<Transition> {
        let mut out = Vec::new();
        loop {
            let next = self
                .timers
                .iter()
                .filter(|(_, t)| t.due_at <= until)
                .min_by_key(|(_, t)| t.due_at)
                .map(|(k, _)| k.clone());
            let Some(key) = next else { break };
            let timer = self.timers.remove(&key).expect("the timer is pending");
            self.now = self.now.max(timer.due_at);
            // A timer whose command is refused is dropped, as the engine does.
            if let Ok(tr) = self.try_apply(timer.command) {
                out.push(tr);
            }
        }
        self.now = self.now.max(until);
        out
    }

    /// The due time of the pending timer with this key.
    pub fn timer_due(&self, key: &str) -> Option<DateTime<Utc>> {
        self.timers.get(key).map(|t| t.due_at)
    }

    /// A worker reports that the running attempt of `task` exited with `code` after `ran`.
    #[track_caller]
    pub fn exit(&mut self, task: &str, code: i32) -> Transition {
        self.exit_after(task, code, StdDuration::from_secs(1), None)
    }

    #[track_caller]
    pub fn exit_after(
        &mut self,
        task: &str,
        code: i32,
        ran: StdDuration,
        output: Option<Value>,
    ) -> Transition {
        let attempt = self.attempt(task);
        self.apply(exited(task, attempt, code, ran, output.map(object)))
    }

    #[track_caller]
    pub fn attempt(&self, task: &str) -> u32 {
        match self.status(task) {
            TaskStatus::Running { attempt, .. } => attempt,
            other => panic!("`{task}` is not running but {other}"),
        }
    }

    #[track_caller]
    pub fn task(&self, id: &str) -> &TaskState {
        let i = self
            .def
            .task_index(id)
            .unwrap_or_else(|| panic!("no task `{id}`"));
        &self.inst.tasks[i]
    }

    #[track_caller]
    pub fn status(&self, id: &str) -> TaskStatus {
        self.task(id).status.clone()
    }

    #[track_caller]
    pub fn reason(&self, id: &str) -> Option<Reason> {
        self.task(id).reason.clone()
    }

    /// Every status name, for compact assertions.
    pub fn statuses(&self) -> Vec<(&str, &'static str)> {
        self.def
            .tasks
            .iter()
            .zip(&self.inst.tasks)
            .map(|(d, s)| (d.id.as_str(), s.status.name()))
            .collect()
    }
}

pub fn exited(
    task: &str,
    attempt: u32,
    code: i32,
    ran: StdDuration,
    output: Option<Map<String, Value>>,
) -> Command {
    Command::JobFinished {
        task: task.into(),
        attempt,
        outcome: JobOutcome::Exited {
            code,
            output,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            duration_ms: ran.as_millis() as u64,
        },
    }
}

pub fn run_jobs(tr: &Transition) -> Vec<&JobRequest> {
    tr.effects
        .iter()
        .filter_map(|e| match e {
            Effect::RunJob(job) => Some(job),
            _ => None,
        })
        .collect()
}

pub fn dispatched(tr: &Transition) -> Vec<&str> {
    run_jobs(tr).into_iter().map(|j| j.task.as_str()).collect()
}

/// Every job dispatched in a list of transitions.
pub fn dispatched_all(trs: &[Transition]) -> Vec<String> {
    trs.iter()
        .flat_map(|tr| dispatched(tr).into_iter().map(str::to_owned))
        .collect()
}

pub fn canceled(tr: &Transition) -> Vec<(&str, u32)> {
    tr.effects
        .iter()
        .filter_map(|e| match e {
            Effect::CancelJob { task, attempt } => Some((task.as_str(), *attempt)),
            _ => None,
        })
        .collect()
}

/// `(key, due_at)` of every timer a transition set.
pub fn timers_set(tr: &Transition) -> Vec<(&str, DateTime<Utc>)> {
    tr.effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetTimer { key, due_at, .. } => Some((key.as_str(), *due_at)),
            _ => None,
        })
        .collect()
}

/// Keys of every timer a transition cleared.
pub fn timers_cleared(tr: &Transition) -> Vec<&str> {
    tr.effects
        .iter()
        .filter_map(|e| match e {
            Effect::ClearTimer { key } => Some(key.as_str()),
            _ => None,
        })
        .collect()
}

/// The env of the job dispatched for `task` in a transition.
#[track_caller]
pub fn env_of<'t>(tr: &'t Transition, task: &str) -> &'t [(String, String)] {
    &run_jobs(tr)
        .into_iter()
        .find(|j| j.task == task)
        .unwrap_or_else(|| panic!("`{task}` was not dispatched: {:?}", tr.effects))
        .env
}

/// The events of one task, in order.
pub fn task_events<'e>(events: &'e [Event], task: &str) -> Vec<&'e EventKind> {
    events
        .iter()
        .filter(|e| e.task.as_deref() == Some(task))
        .map(|e| &e.kind)
        .collect()
}

/// The statuses one task went through, by name, in order.
pub fn status_trail(events: &[Event], task: &str) -> Vec<&'static str> {
    task_events(events, task)
        .into_iter()
        .filter_map(|k| match k {
            EventKind::TaskStatusChanged { to, .. } => Some(to.name()),
            _ => None,
        })
        .collect()
}

pub fn instance_status_events(events: &[Event]) -> Vec<(InstanceStatus, Option<Reason>)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::InstanceStatusChanged { to, reason } => Some((*to, reason.clone())),
            _ => None,
        })
        .collect()
}

pub fn alerts<'e>(events: &'e [Event], task: &str) -> Vec<&'e Reason> {
    task_events(events, task)
        .into_iter()
        .filter_map(|k| match k {
            EventKind::Alert { reason } => Some(reason),
            _ => None,
        })
        .collect()
}

/// The rule name of a reason, as `baton show` and the history name it.
pub fn rule(reason: &Option<Reason>) -> String {
    match reason {
        None => "-".into(),
        Some(r) => serde_json::to_value(r).unwrap()["rule"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

pub fn job(id: &str) -> String {
    format!("  - id: {id}\n    kind: job\n    command: ./{id}.sh")
}

pub fn job_after(id: &str, after: &str) -> String {
    format!("{}\n    after: [{after}]", job(id))
}

pub fn on_demand(id: &str) -> String {
    format!("{}\n    on_demand: true", job(id))
}
