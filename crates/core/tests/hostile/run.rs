//! Runs an accepted definition in the pure core as the engine would, with hostile start data
//! and a hostile sequence of commands: job results with hostile output, timers fired (time
//! jumping to them), operators' retries, skips, breakpoints, input and aborts, ForEach
//! iterations started and ended, every human-task operation, deletion. After every step the
//! state must be one the engine can store and read back, and the invariants below must hold.

use std::collections::{BTreeMap, BTreeSet};

use baton_core::definition::Definition;
use baton_core::user_task::{
    Actor, Caller, EscalationAction, FollowOnSpec, HumanTaskId, PotentialOwners, SubtaskSpec,
    UserTaskCommand,
};
use baton_core::{
    apply_with, start_iteration, start_with, Command, DataLimits, Effect, Event, Instance,
    InstanceStatus, JobOutcome, Knowledge, TaskStatus, Transition, TransitionError,
};
use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::{Map, Value};

use super::data;
use super::tape::Tape;

/// Most commands one case plays.
const MAX_COMMANDS: usize = 40;

/// Why a case failed: the invariant that broke.
pub type Broken = String;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

struct Driver<'k> {
    def: &'k Definition,
    knowledge: &'k Knowledge,
    max_depth: usize,
    inst: Instance,
    now: DateTime<Utc>,
    /// Outstanding jobs: task id -> attempt.
    jobs: BTreeMap<String, u32>,
    /// Pending durable timers: key -> (due, command).
    timers: BTreeMap<String, (DateTime<Utc>, Command)>,
    /// Iterations started and not yet reported ended: (task, index, item, attempt).
    iterations: Vec<(String, usize, Value, u32)>,
    /// The snapshots ForEach runs shared, by (task, attempt): what their iterations read.
    snapshots: BTreeMap<(String, u32), std::sync::Arc<baton_core::instance::ForEachSnapshot>>,
    /// The `wait` tasks' subscriptions the store would hold: task id -> (event, key).
    subscriptions: BTreeMap<String, (String, Option<String>)>,
}

/// Starts the definition with hostile data and plays hostile commands on it. Process data must
/// never nest deeper than `max_depth` (the data limit's, or for a definition read back as
/// stored, whose defaults may be as deep as the limits' ceiling, that ceiling).
pub fn run(
    def: &Definition,
    knowledge: &Knowledge,
    max_depth: usize,
    now: DateTime<Utc>,
    t: &mut Tape,
) -> Result<(), Broken> {
    let input = data::start(t);
    let started = start_with(def, "i-1".into(), input.clone(), now, knowledge);
    let transition = match started {
        Ok(transition) => transition,
        Err(TransitionError::InvalidData(problems)) => {
            ensure!(
                !problems.is_empty() && problems.iter().all(|p| !p.trim().is_empty()),
                "a refusal of the start data says nothing: {problems:?}"
            );
            return Ok(());
        }
        Err(e @ TransitionError::DataLimit { .. }) => {
            ensure!(
                knowledge.limits.check_object(&input).is_err(),
                "start data within the limits was refused: {e}"
            );
            return Ok(());
        }
        Err(other) => {
            return Err(format!(
                "start refused the data with an unexpected error: {other:?}"
            ))
        }
    };
    let mut d = Driver {
        def,
        knowledge,
        max_depth,
        inst: transition.instance.clone(),
        now,
        jobs: BTreeMap::new(),
        timers: BTreeMap::new(),
        iterations: Vec::new(),
        snapshots: BTreeMap::new(),
        subscriptions: BTreeMap::new(),
    };
    d.take(&transition)?;
    for _ in 0..MAX_COMMANDS {
        // Past the end of the tape, the run goes on the happy path to its end.
        let next = if t.exhausted() {
            d.happy()
        } else {
            d.command(t)
        };
        let Some(command) = next else {
            if t.exhausted() {
                break;
            }
            continue;
        };
        let was_terminal = d.inst.status.is_terminal();
        d.step(command)?;
        if was_terminal && t.chance(50) {
            break;
        }
    }
    Ok(())
}

impl Driver<'_> {
    fn id(&self, i: usize) -> String {
        self.def.tasks[i].id.clone()
    }

    fn pick_task(&self, t: &mut Tape) -> String {
        self.id(t.below(self.def.tasks.len()))
    }

    fn running(&self) -> Vec<(String, u32)> {
        self.jobs
            .iter()
            .map(|(task, attempt)| (task.clone(), *attempt))
            .collect()
    }

    /// The next command, from the tape.
    fn command(&mut self, t: &mut Tape) -> Option<Command> {
        let by = "operator".to_owned();
        Some(match t.below(15) {
            0 | 1 => {
                let running = self.running();
                let (task, attempt) = running.get(t.below(running.len().max(1)))?.clone();
                let code = [0, 0, 1, -1, i32::MIN, 137][t.below(6)];
                let output = if t.chance(60) {
                    Some(data::object(t))
                } else {
                    None
                };
                let duration_ms = [10, 0, u64::MAX, 86_400_000][t.below(4)];
                let outcome = match t.below(5) {
                    0 => JobOutcome::TimedOut {
                        after_ms: duration_ms,
                        stdout_tail: String::new(),
                        stderr_tail: String::new(),
                    },
                    1 => JobOutcome::CouldNotStart {
                        message: super::text::hostile_text(t),
                    },
                    _ => JobOutcome::Exited {
                        code,
                        output,
                        stdout_tail: super::text::hostile_text(t),
                        stderr_tail: String::new(),
                        duration_ms,
                    },
                };
                Command::JobFinished {
                    task,
                    attempt,
                    outcome,
                }
            }
            2 => {
                let running = self.running();
                let (task, attempt) = running.get(t.below(running.len().max(1)))?.clone();
                Command::RedispatchJob { task, attempt }
            }
            3 | 4 => {
                // The earliest timer fires, time jumping to it.
                let (key, (due, command)) = self
                    .timers
                    .iter()
                    .min_by_key(|(_, (due, _))| *due)
                    .map(|(k, v)| (k.clone(), v.clone()))?;
                self.timers.remove(&key);
                self.now = self.now.max(due);
                command
            }
            5 => Command::RetryTask {
                task: self.pick_task(t),
                by,
            },
            6 => Command::SkipTask {
                task: self.pick_task(t),
                by,
            },
            7 => Command::Abort {
                by,
                abort_parent: false,
            },
            8 => Command::SetBreakpoint {
                task: self.pick_task(t),
                enabled: t.chance(50),
                by,
            },
            9 => Command::ProvideInput {
                task: self.pick_task(t),
                values: data::object(t),
                by,
            },
            10 => {
                if self.iterations.is_empty() {
                    return None;
                }
                let (task, index, item, attempt) =
                    self.iterations.remove(t.below(self.iterations.len()));
                self.run_iteration(&task, index, item, attempt)?.ok()?;
                let status = [
                    InstanceStatus::Completed,
                    InstanceStatus::Failed,
                    InstanceStatus::Aborted,
                ][t.below(3)];
                Command::IterationEnded {
                    task,
                    index: if t.chance(10) { index + 1000 } else { index },
                    status,
                }
            }
            11 | 12 => {
                let task = self.pick_task(t);
                Command::UserTask {
                    task,
                    actor: actor(t),
                    command: user_task_command(t),
                }
            }
            13 => {
                // An event, for a task that waits (its name and key) or for none.
                let (name, key) = match self.subscriptions.values().next() {
                    Some(sub) if t.chance(70) => sub.clone(),
                    _ => (
                        t.pick(&["e", "f"]).to_owned(),
                        if t.chance(50) {
                            Some(super::text::hostile_text(t))
                        } else {
                            None
                        },
                    ),
                };
                let event = baton_core::correlation::ReceivedEvent {
                    id: "e-1".into(),
                    name,
                    key,
                    data: data::object(t),
                };
                Command::EventReceived { event }
            }
            _ => {
                // Time passes: hours, days or years.
                let jump = [
                    Duration::hours(1),
                    Duration::days(3),
                    Duration::days(365 * 200),
                    Duration::seconds(1),
                ][t.below(4)];
                self.now = self.now.checked_add_signed(jump).unwrap_or(self.now);
                if t.chance(10) {
                    Command::Delete { by, reason: None }
                } else {
                    return None;
                }
            }
        })
    }

    /// The next command of a run in which everything goes well: a job exits 0, the next
    /// timer fires, an iteration completes, a human task is claimed and completed.
    fn happy(&mut self) -> Option<Command> {
        if self.inst.status.is_terminal() {
            return None;
        }
        if let Some((task, attempt)) = self.running().into_iter().next() {
            let outcome = JobOutcome::Exited {
                code: 0,
                output: None,
                stdout_tail: String::new(),
                stderr_tail: String::new(),
                duration_ms: 10,
            };
            return Some(Command::JobFinished {
                task,
                attempt,
                outcome,
            });
        }
        if !self.iterations.is_empty() {
            let (task, index, item, attempt) = self.iterations.remove(0);
            self.run_iteration(&task, index, item, attempt)?.ok()?;
            return Some(Command::IterationEnded {
                task,
                index,
                status: InstanceStatus::Completed,
            });
        }
        let admin = Actor::User(Caller {
            user: "root".into(),
            groups: BTreeSet::new(),
            admin: true,
        });
        for (i, state) in self.inst.tasks.iter().enumerate() {
            match &state.status {
                TaskStatus::Ready => {
                    return Some(Command::UserTask {
                        task: self.id(i),
                        actor: admin,
                        command: UserTaskCommand::Claim {
                            task: HumanTaskId::ORIGINAL,
                        },
                    })
                }
                TaskStatus::Claimed { .. } => {
                    let output = Map::from_iter([("f".to_owned(), Value::from("done"))]);
                    return Some(Command::UserTask {
                        task: self.id(i),
                        actor: admin,
                        command: UserTaskCommand::Complete {
                            task: HumanTaskId::ORIGINAL,
                            output,
                        },
                    });
                }
                _ => {}
            }
        }
        let (key, (due, command)) = self
            .timers
            .iter()
            .min_by_key(|(_, (due, _))| *due)
            .map(|(k, v)| (k.clone(), v.clone()))?;
        self.timers.remove(&key);
        self.now = self.now.max(due);
        Some(command)
    }

    /// Starts an iteration's child instance of the body, as the engine does for `StartIteration`.
    fn run_iteration(
        &self,
        task: &str,
        index: usize,
        item: Value,
        attempt: u32,
    ) -> Option<Result<(), Broken>> {
        let body = self.def.body(&format!("{}/{task}", self.def.id))?;
        let parent = self
            .inst
            .child_placement(baton_core::instance::ParentLink::iteration(
                self.inst.id.clone(),
                task.to_owned(),
                index,
            ));
        let knowledge = Knowledge {
            iteration_data: self.snapshots.get(&(task.to_owned(), attempt)).cloned(),
            ..self.knowledge.clone()
        };
        let transition = start_iteration(
            &body,
            format!("i-1/{task}/{index}"),
            parent,
            item,
            attempt,
            self.now,
            &knowledge,
        );
        Some(
            check_state(&body, &transition.instance, self.max_depth)
                .and_then(|()| check_stored(&transition)),
        )
    }

    fn step(&mut self, command: Command) -> Result<(), Broken> {
        let shown = format!("{command:?}");
        let deleting = matches!(command, Command::Delete { .. });
        let (ended, deleted) = (
            self.inst.status.is_terminal(),
            self.inst.deleted_at.is_some(),
        );
        match apply_with(self.def, &self.inst, command, self.now, self.knowledge) {
            Ok(transition) => {
                ensure!(
                    !deleted && (!ended || deleting),
                    "a {} instance took {shown}",
                    if deleted { "deleted" } else { "terminal" }
                );
                self.inst = transition.instance.clone();
                self.take(&transition)
            }
            Err(e) => {
                // A refusal says why, and (the state being `&`) changed nothing.
                ensure!(
                    !e.to_string().trim().is_empty(),
                    "a refusal of {shown} says nothing"
                );
                Ok(())
            }
        }
    }

    /// Records a transition's effects as the engine would, and checks the new state.
    fn take(&mut self, transition: &Transition) -> Result<(), Broken> {
        check_stored(transition)?;
        for effect in &transition.effects {
            match effect {
                Effect::RunJob(job) => {
                    self.jobs.insert(job.task.clone(), job.attempt);
                }
                Effect::CancelJob { task, .. } => {
                    self.jobs.remove(task);
                }
                Effect::SetTimer {
                    key,
                    due_at,
                    command,
                } => {
                    self.timers.insert(key.clone(), (*due_at, command.clone()));
                }
                Effect::ClearTimer { key } => {
                    self.timers.remove(key);
                }
                Effect::StartIteration {
                    task,
                    attempt,
                    index,
                    item,
                } => self
                    .iterations
                    .push((task.clone(), *index, item.clone(), *attempt)),
                Effect::ShareSnapshot {
                    task,
                    attempt,
                    snapshot,
                } => {
                    self.snapshots
                        .insert((task.clone(), *attempt), snapshot.clone());
                }
                Effect::DropSnapshot { task, attempt } => {
                    self.snapshots.remove(&(task.clone(), *attempt));
                }
                Effect::RunLimitReached { .. } | Effect::LoopLimitReached { .. } => {}
                Effect::AbortChildren { task } => self.iterations.retain(|(t, ..)| t != task),
                Effect::RecordRuntime { .. }
                | Effect::NotifyParent { .. }
                | Effect::NotifyPeople { .. }
                | Effect::RecoverChild { .. }
                | Effect::CopyDocument { .. } => {}
                Effect::Subscribe { task, event, key } => {
                    self.subscriptions
                        .insert(task.clone(), (event.clone(), key.clone()));
                }
                Effect::Unsubscribe { task } => {
                    ensure!(
                        self.subscriptions.remove(task).is_some(),
                        "task `{task}` dropped a subscription it did not have"
                    );
                }
            }
        }
        // A job that is no longer running has no result to come.
        let def = self.def;
        let inst = &self.inst;
        self.jobs.retain(|task, attempt| {
            def.task_index(task).is_some_and(|i| matches!(inst.tasks[i].status, TaskStatus::Running { attempt: a, .. } if a == *attempt))
        });
        // A subscription is held exactly while its task waits for that event and key.
        for (i, task) in self.def.tasks.iter().enumerate() {
            let waiting = match &self.inst.tasks[i].status {
                TaskStatus::WaitingForEvent { event, key, .. } => {
                    Some((event.clone(), key.clone()))
                }
                _ => None,
            };
            ensure!(
                self.subscriptions.get(&task.id) == waiting.as_ref(),
                "task `{}` is {} but its subscription is {:?}",
                task.id,
                self.inst.tasks[i].status,
                self.subscriptions.get(&task.id)
            );
        }
        check_state(self.def, &self.inst, self.max_depth)
    }
}

fn actor(t: &mut Tape) -> Actor {
    match t.below(4) {
        0 => Actor::User(Caller {
            user: "alice".into(),
            groups: BTreeSet::from(["editors".to_owned()]),
            admin: false,
        }),
        1 => Actor::User(Caller {
            user: "root".into(),
            groups: BTreeSet::new(),
            admin: true,
        }),
        2 => Actor::Engine,
        _ => Actor::User(Caller::new(super::text::hostile_text(t))),
    }
}

fn people(t: &mut Tape) -> PotentialOwners {
    let mut owners = PotentialOwners::default();
    if t.chance(80) {
        owners.users.insert(if t.chance(20) {
            super::text::hostile_text(t)
        } else {
            "bob".into()
        });
    }
    owners
}

fn user_task_command(t: &mut Tape) -> UserTaskCommand {
    let task = HumanTaskId(t.below(3) as u32);
    match t.below(14) {
        0 | 1 => UserTaskCommand::Claim { task },
        2 | 3 => UserTaskCommand::Complete {
            task,
            output: if t.chance(50) {
                Map::from_iter([("f".to_owned(), data::value(t))])
            } else {
                data::object(t)
            },
        },
        4 => UserTaskCommand::CancelClaim { task },
        5 => UserTaskCommand::Fail {
            task,
            reason: super::text::hostile_text(t),
        },
        6 => {
            let mut spec = FollowOnSpec::new(super::text::hostile_text(t), people(t));
            spec.input = data::object(t);
            UserTaskCommand::StartFollowOn { task, spec }
        }
        7 => UserTaskCommand::CreateSubtask {
            parent: task,
            spec: SubtaskSpec {
                title: super::text::hostile_text(t),
                description: String::new(),
                to: people(t),
                input: data::object(t),
                output_fields: Vec::new(),
                expires_after: [
                    None,
                    Some(std::time::Duration::from_secs(60)),
                    Some(std::time::Duration::MAX),
                ][t.below(3)],
                escalations: Vec::new(),
            },
        },
        8 => UserTaskCommand::Suspend { task },
        9 => UserTaskCommand::Resume { task },
        10 => UserTaskCommand::Escalate {
            task,
            name: super::text::hostile_text(t),
            action: EscalationAction::RaisePriority {
                by: [1, i32::MAX, i32::MIN][t.below(3)],
            },
        },
        11 => UserTaskCommand::Terminate { task },
        12 => UserTaskCommand::Restart { task },
        _ => UserTaskCommand::Delete { task },
    }
}

/// What the store does with a step: the state, the events, the jobs and the timers' commands
/// written as JSON; each must read back (a state that cannot be read back poisons its instance).
fn check_stored(transition: &Transition) -> Result<(), Broken> {
    let state = serde_json::to_string(&transition.instance)
        .map_err(|e| format!("the state cannot be written: {e}"))?;
    let back: Instance = serde_json::from_str(&state)
        .map_err(|e| format!("the stored state does not read back: {e}"))?;
    ensure!(
        back.tasks.len() == transition.instance.tasks.len()
            && back.status == transition.instance.status,
        "the state read back differs"
    );
    let events = serde_json::to_string(&transition.events)
        .map_err(|e| format!("the events cannot be written: {e}"))?;
    serde_json::from_str::<Vec<Event>>(&events)
        .map_err(|e| format!("the stored events do not read back: {e}"))?;
    for effect in &transition.effects {
        match effect {
            Effect::RunJob(job) => {
                let text = serde_json::to_string(job)
                    .map_err(|e| format!("a job cannot be written: {e}"))?;
                serde_json::from_str::<baton_core::JobRequest>(&text)
                    .map_err(|e| format!("a stored job does not read back: {e}"))?;
            }
            Effect::SetTimer {
                command, due_at, ..
            } => {
                ensure!(
                    *due_at <= baton_core::timestamp::LATEST && due_at.year() >= 0,
                    "a timer is due at {due_at}, outside the years a store keeps"
                );
                let payload = serde_json::to_value(command)
                    .map_err(|e| format!("a timer cannot be written: {e}"))?;
                serde_json::from_value::<Command>(payload)
                    .map_err(|e| format!("a stored timer's command does not read back: {e}"))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The invariants of every state.
fn check_state(def: &Definition, inst: &Instance, max_depth: usize) -> Result<(), Broken> {
    ensure!(inst.tasks.len() == def.tasks.len(), "a task was lost");
    // Whatever wrote it, process data nests no deeper than the data limits allow.
    let depth_only = DataLimits {
        max_depth,
        max_bytes: usize::MAX,
    };
    ensure!(
        depth_only.check_object(&inst.data).is_ok(),
        "process data nests deeper than the limit of {max_depth} levels"
    );
    for (i, task) in inst.tasks.iter().enumerate() {
        // A failure (an expression's among them) ends the task with a reason.
        ensure!(
            task.status != TaskStatus::EndedNotOk || task.reason.is_some(),
            "task `{}` ended not OK without a reason",
            def.tasks[i].id
        );
        if let Some(reason) = &task.reason {
            ensure!(
                !reason.to_string().trim().is_empty(),
                "task `{}` has an empty reason",
                def.tasks[i].id
            );
        }
    }
    if inst.status.is_terminal() {
        ensure!(
            inst.tasks.iter().all(|t| t.status.is_end()),
            "a {} instance has a task that has not ended",
            inst.status
        );
    }
    Ok(())
}
