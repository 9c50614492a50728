//! How a `user` task lives in a process instance (the IBM follow-on tasks seed).
//!
//! When the start pipeline lets a `user` task start, its human task is created from the
//! definition and the process data ([`crate::user_task::create`]) and kept in the task's state.
//! Every later operation ([`Command::UserTask`]) goes through [`crate::user_task::apply`]; its
//! history events are recorded, its timers become durable timers whose command comes back as
//! [`UserTaskCommand::FireTimer`], and the process task shows the human task's status (`ready`,
//! `claimed`, `forwarded`, `suspended`, `escalated`), so the instance is `waiting` while only
//! people have work. When the chain of the original task ends, its outcome ends the process
//! task — the output of the chain's last task is mapped into process data — and the flow goes
//! on: `ended_ok`, `ended_not_ok`, `terminated`, or `expired` with the task's `on_expiry` path.
//! Aborting the instance terminates its open human tasks; deleting it deletes them.

use serde_json::{Map, Value};

use crate::command::Command;
use crate::definition::{Action, Assignee, EndAs, Priority, TaskKind, Text, UserTaskDef};
use crate::effect::Effect;
use crate::event::EventKind;
use crate::instance::Instance;
use crate::machine::{Machine, TransitionError};
use crate::status::{InstanceStatus, Reason, TaskStatus};
use crate::user_task::{
    self, Actor, HumanTaskId, HumanTaskStatus, Outcome, OutcomeStatus, PotentialOwners, UserTask,
    UserTaskCommand, UserTaskEffect, UserTaskError, UserTaskSpec, UserTaskTransition,
};

impl Machine<'_> {
    fn user_def(&self, i: usize) -> &UserTaskDef {
        match &self.def.tasks[i].kind {
            TaskKind::User(def) => def,
            _ => unreachable!("only user tasks have human tasks"),
        }
    }

    /// Starts `user` task `i`: its human task is created `ready` for its potential owners.
    pub(crate) fn start_user_task(&mut self, i: usize) {
        let spec = match self.user_task_spec(i) {
            Ok(spec) => spec,
            Err(reason) => return self.fail(i, reason),
        };
        match user_task::create(spec, self.now) {
            Ok(transition) => {
                // A fresh start (or a retry) replaces the human tasks of an earlier run.
                self.inst.tasks[i].user_task = None;
                if let Err(e) = self.absorb(i, transition, true) {
                    self.fail(
                        i,
                        Reason::UserTaskRefused {
                            message: e.to_string(),
                        },
                    );
                }
            }
            Err(e) => self.fail(
                i,
                Reason::UserTaskRefused {
                    message: e.to_string(),
                },
            ),
        }
    }

    /// The human task as this instance starts it: texts, people and priority resolved from process data.
    fn user_task_spec(&self, i: usize) -> Result<UserTaskSpec, Reason> {
        let def = self.user_def(i);
        let scope = self.scope_for(i);
        let failed = |field: &str, message: String| Reason::ExpressionFailed {
            field: field.to_owned(),
            message,
        };
        let text = |t: &Text, field: &str| -> Result<String, Reason> {
            match t {
                Text::Plain(s) => Ok(s.clone()),
                Text::Expr(e) => match e.eval(&scope).map_err(|e| failed(field, e.0))? {
                    Value::String(s) => Ok(s),
                    Value::Null => Ok(String::new()),
                    other => Ok(other.to_string()),
                },
            }
        };
        let people = |list: &[Assignee], field: &str| -> Result<PotentialOwners, Reason> {
            let mut owners = PotentialOwners::default();
            for assignee in list {
                match assignee {
                    Assignee::Named(named) => {
                        owners.users.extend(named.users.iter().cloned());
                        owners.groups.extend(named.groups.iter().cloned());
                    }
                    Assignee::Expr(e) => {
                        let value = e.eval(&scope).map_err(|e| failed(field, e.0))?;
                        owners
                            .add_resolved(&value)
                            .map_err(|e| failed(field, e.to_string()))?;
                    }
                }
            }
            Ok(owners)
        };
        let priority = match &def.priority {
            Priority::Fixed(n) => *n,
            Priority::Expr(e) => match e.eval(&scope).map_err(|e| failed("priority", e.0))? {
                Value::Number(n) if n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()) => {
                    n.as_i64().unwrap_or_default() as i32
                }
                other => {
                    return Err(failed(
                        "priority",
                        format!("must give a whole number, gave {other}"),
                    ))
                }
            },
        };
        let input = match &def.input {
            None => self.visible_data(),
            Some(mapping) => {
                let mut input = Map::new();
                for (name, e) in mapping {
                    input.insert(
                        name.clone(),
                        e.eval(&scope)
                            .map_err(|e| failed(&format!("input.{name}"), e.0))?,
                    );
                }
                self.within_limits(&input, || {
                    format!("the input of user task `{}`", self.def.tasks[i].id)
                })?;
                input
            }
        };
        Ok(UserTaskSpec {
            process_task: self.def.tasks[i].id.clone(),
            title: text(&def.title, "title")?,
            description: def
                .description
                .as_ref()
                .map(|d| text(d, "description"))
                .transpose()?
                .unwrap_or_default(),
            input,
            potential_owners: people(&def.owners, "owners")?,
            administrators: people(&def.administrators, "administrators")?,
            originator: None,
            priority,
            due: def.due.map(|d| crate::timestamp::after(self.now, d)),
            output_fields: def.form.clone(),
            expires_after: def.expires_after,
            escalations: def.escalations.clone(),
            subtask_policy: def.subtasks,
        })
    }

    /// An operation on one of task `task`'s human tasks.
    pub(crate) fn user_task_command(
        &mut self,
        task: &str,
        actor: Actor,
        command: UserTaskCommand,
    ) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        if !matches!(self.def.tasks[i].kind, TaskKind::User(_)) {
            return Err(TransitionError::NotAUserTask {
                task: task.to_owned(),
                kind: self.def.tasks[i].kind.name(),
            });
        }
        let Some(state) = &self.inst.tasks[i].user_task else {
            return Err(TransitionError::UserTaskNotStarted {
                task: task.to_owned(),
                status: self.inst.tasks[i].status.name().to_owned(),
            });
        };
        let firing = matches!(command, UserTaskCommand::FireTimer { .. });
        match user_task::apply(state, &actor, command, self.now) {
            Ok(transition) => self.absorb(i, transition, true),
            // A timer that was cleared, paused or outlived its task is stale: it changes nothing.
            Err(
                UserTaskError::StaleTimer(_)
                | UserTaskError::UserTaskDeleted(_)
                | UserTaskError::ChainEnded { .. },
            ) if firing => Ok(()),
            Err(error) => Err(TransitionError::UserTask {
                task: task.to_owned(),
                error,
            }),
        }
    }

    /// Takes a user-task transition in: its state, its history, its effects. With `follow`, the
    /// process task then follows the human task (its status, or its end); without it (the
    /// process itself ends or skips the task) only the human tasks change.
    fn absorb(
        &mut self,
        i: usize,
        transition: UserTaskTransition,
        follow: bool,
    ) -> Result<(), TransitionError> {
        let UserTaskTransition {
            state,
            events,
            effects,
            ..
        } = transition;
        let task_id = self.def.tasks[i].id.clone();
        for event in events {
            self.emit(
                Some(i),
                EventKind::HumanTask {
                    human_task: event.task,
                    by: event.by,
                    change: event.kind,
                },
            );
        }
        let mut ended = None;
        let mut deleted = false;
        for effect in effects {
            match effect {
                UserTaskEffect::SetTimer(timer) => {
                    let command = Command::UserTask {
                        task: task_id.clone(),
                        actor: Actor::Engine,
                        command: UserTaskCommand::FireTimer {
                            key: timer.key.clone(),
                        },
                    };
                    self.effects.push(Effect::SetTimer {
                        key: timer.key,
                        due_at: timer.due,
                        command,
                    });
                }
                UserTaskEffect::ClearTimer { key } => self.effects.push(Effect::ClearTimer { key }),
                UserTaskEffect::Notify {
                    task,
                    escalation,
                    to,
                } => {
                    self.emit(
                        Some(i),
                        EventKind::PeopleNotified {
                            human_task: task,
                            escalation: escalation.clone(),
                            to: to.clone(),
                        },
                    );
                    self.effects.push(Effect::NotifyPeople {
                        task: task_id.clone(),
                        human_task: task,
                        escalation,
                        to,
                    });
                }
                UserTaskEffect::Ended(outcome) => ended = Some(outcome),
                UserTaskEffect::Deleted => deleted = true,
            }
        }
        self.inst.tasks[i].user_task = Some(std::sync::Arc::new(state));
        if !follow {
            return Ok(());
        }
        match ended {
            Some(outcome) => self.user_task_ended(i, outcome)?,
            None if deleted => {
                let by = self.last_actor(i);
                self.set_task(
                    i,
                    TaskStatus::Terminated,
                    Some(Reason::Operator {
                        action: "delete".into(),
                        by,
                    }),
                );
            }
            None => self.show_user_task_status(i),
        }
        Ok(())
    }

    /// Who acted last on task `i`'s human tasks (from its original's status).
    fn last_actor(&self, i: usize) -> String {
        let Some(state) = &self.inst.tasks[i].user_task else {
            return "engine".into();
        };
        match state
            .task(state.last_in_chain(HumanTaskId::ORIGINAL))
            .map(|t| t.status.base())
        {
            Some(
                HumanTaskStatus::EndedOk { by, .. }
                | HumanTaskStatus::EndedNotOk { by, .. }
                | HumanTaskStatus::Terminated { by, .. }
                | HumanTaskStatus::Deleted { by, .. },
            ) => by.clone(),
            _ => "engine".into(),
        }
    }

    /// The process task shows the status of its original human task's chain.
    fn show_user_task_status(&mut self, i: usize) {
        let Some(state) = &self.inst.tasks[i].user_task else {
            return;
        };
        let (status, reason) = process_status(state);
        let current = &self.inst.tasks[i];
        if current.status != status || current.reason != reason {
            self.set_status(i, status, reason);
        }
    }

    /// The original chain ended: the process task ends as it did and the flow goes on.
    fn user_task_ended(&mut self, i: usize, outcome: Outcome) -> Result<(), TransitionError> {
        match outcome.status {
            OutcomeStatus::EndedOk => match self.output_writes(i, &outcome.output)? {
                Err(reason) => self.fail(i, reason),
                Ok(writes) => {
                    if !writes.is_empty() {
                        self.inst.data.extend(writes.clone());
                        self.emit(Some(i), EventKind::DataChanged { values: writes });
                    }
                    self.set_task(i, TaskStatus::EndedOk, None);
                }
            },
            OutcomeStatus::EndedNotOk => {
                let by = self.last_actor(i);
                self.set_task(
                    i,
                    TaskStatus::EndedNotOk,
                    Some(Reason::HumanTaskFailed {
                        by,
                        reason: outcome.reason.unwrap_or_default(),
                    }),
                );
            }
            OutcomeStatus::Terminated => {
                let by = self.last_actor(i);
                self.set_task(
                    i,
                    TaskStatus::Terminated,
                    Some(Reason::Operator {
                        action: "terminate".into(),
                        by,
                    }),
                );
            }
            OutcomeStatus::Expired => {
                let action = self.user_def(i).on_expiry;
                let reason = Reason::ExpiredChain {
                    action: action.name().to_owned(),
                };
                match action {
                    Action::End(EndAs::Ok) => self.set_task(i, TaskStatus::EndedOk, Some(reason)),
                    Action::End(EndAs::NotOk) => {
                        self.set_task(i, TaskStatus::EndedNotOk, Some(reason))
                    }
                    Action::Run(other) => {
                        self.set_task(i, TaskStatus::Expired, Some(reason));
                        self.trigger(other, i, "on_expiry");
                    }
                    Action::Abort => {
                        self.set_task(i, TaskStatus::Expired, Some(reason.clone()));
                        self.end_instance(InstanceStatus::Aborted, Some(reason));
                    }
                    _ => self.set_task(i, TaskStatus::Expired, Some(reason)),
                }
            }
        }
        Ok(())
    }

    /// The process data a chain's output writes. An `output` mapping the definition gives is
    /// evaluated (a failure ends the task `ended_not_ok`, as in a `set` task); without one,
    /// output fields named like declared variables are copied, and a value of the wrong type
    /// refuses the completion (the person can correct it) — `Err` of the outer result.
    fn output_writes(
        &self,
        i: usize,
        output: &Map<String, Value>,
    ) -> Result<Result<Map<String, Value>, Reason>, TransitionError> {
        let def = self.user_def(i);
        self.form_output_writes(i, def.output.as_deref(), &def.form, output, "user task")
    }

    /// [`output_writes`](Self::output_writes) for any task with a form (a `user` or a `view`
    /// task, a `what`): its `mapping`, or the fields named like declared data.
    pub(crate) fn form_output_writes(
        &self,
        i: usize,
        mapping: Option<&[(String, crate::expr::Expr)]>,
        form: &[crate::user_task::FormField],
        output: &Map<String, Value>,
        what: &str,
    ) -> Result<Result<Map<String, Value>, Reason>, TransitionError> {
        let mut writes = Map::new();
        if let Some(mapping) = mapping {
            return Ok(self.output_mapping(i, mapping, output, what));
        }
        let mut problems = Vec::new();
        for (key, value) in output {
            if self.def.data.is_empty() || self.def.data.contains_key(key) {
                match self.type_problem(key, value) {
                    Some(reason) => problems.push(reason.to_string()),
                    None => {
                        writes.insert(key.clone(), value.clone());
                    }
                }
            } else if form.is_empty() {
                let declared: Vec<&str> = self.def.data.keys().map(String::as_str).collect();
                problems.push(format!(
                    "`{key}` is not declared by process `{}` (it declares {})",
                    self.def.id,
                    declared.join(", ")
                ));
            }
        }
        if !problems.is_empty() {
            return Err(TransitionError::InvalidData(problems));
        }
        Ok(Ok(writes))
    }

    /// Is task `i` a user task whose original chain is still open?
    fn open_user_task(&self, i: usize) -> Option<&UserTask> {
        self.inst.tasks[i]
            .user_task
            .as_deref()
            .filter(|ut| !ut.deleted && ut.outcome.is_none())
    }

    /// The process ends or skips task `i`: its open human tasks are terminated by the engine.
    pub(crate) fn terminate_user_task(&mut self, i: usize) {
        let Some(state) = self.open_user_task(i) else {
            return;
        };
        match user_task::apply(
            state,
            &Actor::Engine,
            UserTaskCommand::Terminate {
                task: HumanTaskId::ORIGINAL,
            },
            self.now,
        ) {
            Ok(transition) => {
                let _ = self.absorb(i, transition, false);
            }
            Err(e) => self.emit(
                Some(i),
                EventKind::Alert {
                    reason: Reason::UserTaskRefused {
                        message: e.to_string(),
                    },
                },
            ),
        }
    }

    /// The instance is deleted: every human task of every user task is deleted with it.
    fn delete_user_tasks(&mut self) {
        for i in 0..self.def.tasks.len() {
            let Some(state) = self.inst.tasks[i]
                .user_task
                .as_ref()
                .filter(|ut| !ut.deleted)
            else {
                continue;
            };
            if let Ok(transition) = user_task::apply(
                state,
                &Actor::Engine,
                UserTaskCommand::Delete {
                    task: HumanTaskId::ORIGINAL,
                },
                self.now,
            ) {
                let _ = self.absorb(i, transition, false);
            }
        }
    }
}

/// What the process shows for a user task whose original chain is open.
pub(crate) fn process_status(state: &UserTask) -> (TaskStatus, Option<Reason>) {
    let original = state.original();
    let offered = || {
        Some(Reason::OfferedTo {
            owners: original.potential_owners.to_string(),
        })
    };
    match &original.status {
        HumanTaskStatus::Suspended { since, by, .. } => (
            TaskStatus::Suspended {
                since: *since,
                by: by.clone(),
            },
            None,
        ),
        HumanTaskStatus::Forwarded { .. } => {
            let current = state.last_in_chain(HumanTaskId::ORIGINAL);
            let task = state.task(current).expect("the chain's tasks exist");
            let status = match task.status.claimed_by() {
                Some(by) => format!("claimed by {by}"),
                None => task.status.name().to_owned(),
            };
            (
                TaskStatus::Forwarded { to: current },
                Some(Reason::ForwardedTo {
                    task: current,
                    title: task.title.clone(),
                    status,
                }),
            )
        }
        status => {
            let claimed = status.claimed_by().map(str::to_owned);
            match original.escalations.last() {
                Some(escalation) => {
                    let reason = if claimed.is_none() { offered() } else { None };
                    (
                        TaskStatus::Escalated {
                            escalation: escalation.name.clone(),
                            claimed_by: claimed,
                        },
                        reason,
                    )
                }
                None => match status {
                    HumanTaskStatus::Claimed { by, since } => (
                        TaskStatus::Claimed {
                            by: by.clone(),
                            since: *since,
                        },
                        None,
                    ),
                    _ => (TaskStatus::Ready, offered()),
                },
            }
        }
    }
}

/// Deletes an instance (finished or not): an open one is aborted first, which terminates its
/// human tasks; then every human task is deleted ("deleting the process instance deletes both
/// tasks"). The instance keeps its history and takes no more commands.
pub(crate) fn delete(
    machine: &mut Machine<'_>,
    by: &str,
    reason: Option<Reason>,
) -> Result<(), TransitionError> {
    if machine.inst.deleted_at.is_some() {
        return Err(TransitionError::InstanceDeleted(machine.inst.id.clone()));
    }
    if !machine.inst.status.is_terminal() {
        let reason = reason.unwrap_or_else(|| Reason::Operator {
            action: "delete".into(),
            by: by.to_owned(),
        });
        machine.end_instance(InstanceStatus::Aborted, Some(reason));
    }
    machine.delete_user_tasks();
    machine.inst.deleted_at = Some(machine.now);
    machine.emit(None, EventKind::InstanceDeleted { by: by.to_owned() });
    Ok(())
}

/// The human tasks of an instance that inboxes show: `(process task, human task)` of every
/// ready or claimed task (suspended or not) of every user task.
pub fn open_human_tasks(
    instance: &Instance,
) -> impl Iterator<Item = (usize, &user_task::HumanTask)> {
    instance
        .tasks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            t.user_task
                .as_ref()
                .filter(|ut| !ut.deleted)
                .map(|ut| (i, ut))
        })
        .flat_map(|(i, ut)| ut.live_tasks().map(move |h| (i, h)))
}
