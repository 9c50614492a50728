//! Sub-processes: the `call` task (a synchronous sub-process the task waits for), the
//! `handoff` task (Pega's Hand Off), what a child tells its parent when it ends, and recovery.
//! What each kind of link means is the table of [`crate::hierarchy`].
//!
//! Both kinds start a deployed process that the driver resolved before the step (the
//! [`Knowledge::callees`](crate::machine::Knowledge::callees)), and run the child's first step
//! inside the parent's: the child's transition travels with the parent's
//! ([`Transition::children`](crate::machine::Transition::children)) and the driver commits
//! them together, so a crash leaves both or neither.
//!
//! **`call`**: the child's start data is the task's `input` mapping; the task is `running`
//! until the child ends. A child that completes writes the `output` mapping (over `output`,
//! the child's data) and the call ends `ended_ok`; one that fails or is aborted ends it
//! `ended_not_ok` with the child's reason, or, if the call says `abort_parent` (or whoever
//! aborted the child asked for it), aborts this instance. A child that completes in its first
//! step ends the call in the same step.
//!
//! **`handoff`**: the child copies what `input` maps onto its own data (Pega's pyDefault data
//! transform) and runs inline, seeing the whole parent data as `offer` (Pega's
//! OfferWorkPage), until its first stopping point: a human task, a job out with a worker, a
//! timer, anything that waits. Then the hand-off is done: the task ends `ended_ok`, the parent
//! records `work_status` and appends the child to `referenced_instances` (Pega's
//! pyReferencedInsKeys), and the child lives on its own, seeing only its own data. A child
//! with no stopping point runs to its end first. If the inline part fails (a task of the
//! child ends `ended_not_ok`, or the child fails or is aborted), nothing is handed off: the
//! task ends `ended_not_ok`, no child exists and the parent's data is unchanged.

use serde_json::{Map, Value};

use crate::definition::{CallSpec, HandoffSpec, ProcessRef};
use crate::effect::Effect;
use crate::event::EventKind;
use crate::hierarchy::{LinkKind, ParentLink};
use crate::instance::ChildRef;
use crate::machine::{Callee, Machine, Transition, TransitionError};
use crate::status::{InstanceStatus, Reason, TaskStatus};

/// How a `call`'s child ended, as it told its parent.
#[derive(Debug)]
pub(crate) struct ChildEnd {
    pub child: String,
    pub status: InstanceStatus,
    pub reason: Option<Reason>,
    pub data: Map<String, Value>,
    pub aborted_by: Option<String>,
}

impl Machine<'_> {
    pub(crate) fn start_call(&mut self, i: usize, spec: &CallSpec) {
        let attempt = self.inst.tasks[i].attempts;
        // Running again after its child failed: recover that child (see `crate::hierarchy`).
        if let Some(ChildRef {
            instance,
            ended: Some(InstanceStatus::Failed),
        }) = self.inst.tasks[i].child.clone()
        {
            let by = match &self.inst.tasks[i].reason {
                Some(Reason::Operator { by, .. }) => by.clone(),
                _ => "engine".to_owned(),
            };
            self.inst.tasks[i].child = Some(ChildRef {
                instance: instance.clone(),
                ended: None,
            });
            self.emit(
                Some(i),
                EventKind::ChildRecovered {
                    child: instance.clone(),
                },
            );
            self.effects.push(Effect::RecoverChild {
                task: self.def.tasks[i].id.clone(),
                attempt,
                child: instance,
                by,
            });
            self.set_task(
                i,
                TaskStatus::Running {
                    attempt,
                    since: self.now,
                },
                None,
            );
            return;
        }
        let data = match self.child_data(i, &spec.input) {
            Ok(data) => data,
            Err(reason) => return self.fail(i, reason),
        };
        let callee = match self.callee(&spec.target) {
            Ok(callee) => callee,
            Err(reason) => return self.fail(i, reason),
        };
        let link = ParentLink {
            instance: self.inst.id.clone(),
            task: self.def.tasks[i].id.clone(),
            index: 0,
            kind: LinkKind::Call,
            attempt,
        };
        let mut child = match self.start_child(&callee, data, Map::new(), link, false) {
            Ok(child) => child,
            Err(reason) => return self.fail(i, reason),
        };
        let id = child.instance.id.clone();
        self.inst.tasks[i].child = Some(ChildRef {
            instance: id.clone(),
            ended: None,
        });
        self.emit(
            Some(i),
            EventKind::ChildStarted {
                child: id.clone(),
                process: callee.definition.id.clone(),
                version: callee.definition.version,
                link: LinkKind::Call,
                by: None,
            },
        );
        self.set_task(
            i,
            TaskStatus::Running {
                attempt,
                since: self.now,
            },
            None,
        );
        // A child that ended in its first step tells this step, not a later one.
        let told = child.effects.iter().position(
            |e| matches!(e, Effect::NotifyParent { parent, .. } if parent.instance == self.inst.id),
        );
        let end = told.map(|at| child.effects.remove(at));
        self.children.push(child);
        if let Some(Effect::NotifyParent {
            status,
            reason,
            data,
            aborted_by,
            ..
        }) = end
        {
            self.call_ended(
                i,
                ChildEnd {
                    child: id,
                    status,
                    reason,
                    data,
                    aborted_by,
                },
            );
        }
    }

    pub(crate) fn start_handoff(&mut self, i: usize, spec: &HandoffSpec) {
        let data = match self.child_data(i, &spec.input) {
            Ok(data) => data,
            Err(reason) => return self.fail(i, reason),
        };
        let callee = match self.callee(&spec.target) {
            Ok(callee) => callee,
            Err(reason) => return self.fail(i, reason),
        };
        let attempt = self.inst.tasks[i].attempts;
        let link = ParentLink {
            instance: self.inst.id.clone(),
            task: self.def.tasks[i].id.clone(),
            index: 0,
            kind: LinkKind::Handoff,
            attempt,
        };
        let child = match self.start_child(&callee, data, Map::new(), link, true) {
            Ok(child) => child,
            Err(reason) => return self.fail(i, reason),
        };
        if let Some(problem) = inline_failure(&callee, &child) {
            return self.fail(
                i,
                Reason::HandoffFailed {
                    process: spec.target.process.clone(),
                    problem,
                },
            );
        }
        let id = child.instance.id.clone();
        self.children.push(child);
        self.inst.tasks[i].child = Some(ChildRef {
            instance: id.clone(),
            ended: None,
        });
        self.emit(
            Some(i),
            EventKind::ChildStarted {
                child: id.clone(),
                process: callee.definition.id.clone(),
                version: callee.definition.version,
                link: LinkKind::Handoff,
                by: None,
            },
        );
        self.inst.referenced_instances.push(id);
        if let Some(label) = &spec.work_status {
            self.inst.work_status = Some(label.clone());
            self.emit(Some(i), EventKind::WorkStatusChanged { to: label.clone() });
        }
        self.set_task(i, TaskStatus::EndedOk, None);
    }

    /// The child's start data: the task's `input` mapping, evaluated over this instance.
    fn child_data(
        &self,
        i: usize,
        input: &[(String, crate::expr::Expr)],
    ) -> Result<Map<String, Value>, Reason> {
        // Without an input mapping the child starts from its defaults; building the scope (this
        // instance's data converted for CEL) for no expression would cost a fan-out of many
        // children more than starting them.
        if input.is_empty() {
            return Ok(Map::new());
        }
        let scope = self.scope_for(i);
        let mut data = Map::new();
        for (name, expr) in input {
            let value = expr.eval(&scope).map_err(|e| Reason::ExpressionFailed {
                field: format!("input.{name}"),
                message: e.0,
            })?;
            data.insert(name.clone(), value);
        }
        self.within_limits(&data, || {
            format!("the input of task `{}`", self.def.tasks[i].id)
        })?;
        if let Some(reason) =
            self.unreferenced_document(&data, None, |name| format!("input.{name}"))
        {
            return Err(reason);
        }
        Ok(data)
    }

    /// The process `target` names, as the driver resolved it, if a child of it may start here.
    pub(crate) fn callee(&self, target: &ProcessRef) -> Result<std::sync::Arc<Callee>, Reason> {
        let unavailable = |problem: String| Reason::ProcessUnavailable {
            process: target.process.clone(),
            problem,
        };
        let callee = match self.knowledge.callees.get(target) {
            Some(Ok(callee)) => callee.clone(),
            Some(Err(problem)) => return Err(unavailable(problem.clone())),
            None => {
                return Err(unavailable(
                    "the engine did not resolve it for this step".to_owned(),
                ))
            }
        };
        let depth = self.inst.depth + 1;
        if depth > self.knowledge.max_depth {
            return Err(Reason::TooDeep {
                depth,
                limit: self.knowledge.max_depth,
            });
        }
        if self.budget.get() == 0 {
            return Err(Reason::TooManyChildren {
                limit: self.knowledge.max_children_per_step,
            });
        }
        self.budget.set(self.budget.get() - 1);
        Ok(callee)
    }

    /// The first step of a child of `callee` with start data `data`, linked by `link`; a
    /// handed-off child sees this instance's data as `offer` while it runs inline.
    /// `unused` are values carried beside the checked start data (a spawned or peer
    /// instance's data its definition does not declare).
    pub(crate) fn start_child(
        &self,
        callee: &Callee,
        data: Map<String, Value>,
        unused: Map<String, Value>,
        link: ParentLink,
        offered: bool,
    ) -> Result<Transition, Reason> {
        let def = &callee.definition;
        let knowledge = self.knowledge.for_callee(callee);
        let mut data = crate::step::start_data(def, data, &knowledge.limits).map_err(|e| {
            Reason::ChildRefused {
                process: def.id.clone(),
                problem: e.to_string(),
            }
        })?;
        data.extend(unused);
        let placement = self.inst.child_placement(link);
        let offer = offered.then(|| self.visible_data());
        let id = uuid::Uuid::now_v7().to_string();
        Ok(crate::step::start_placed(
            def,
            id,
            data,
            placement,
            self.now,
            &knowledge,
            offer.as_ref(),
            self.budget.clone(),
        ))
    }

    /// The child of `call` task `task`, started by attempt `attempt`, ended. An end for
    /// another attempt, or for a task no longer running, changes nothing (it is delivered
    /// again after a crash, or comes after the call was skipped).
    pub(crate) fn child_ended(
        &mut self,
        task: &str,
        attempt: u32,
        end: ChildEnd,
    ) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        if self.running_attempt(i) != Some(attempt)
            || !matches!(self.def.tasks[i].kind, crate::definition::TaskKind::Call(_))
        {
            return Ok(());
        }
        if self.inst.tasks[i]
            .child
            .as_ref()
            .is_some_and(|c| c.instance != end.child)
        {
            return Ok(());
        }
        self.call_ended(i, end);
        Ok(())
    }

    fn call_ended(&mut self, i: usize, end: ChildEnd) {
        let crate::definition::TaskKind::Call(spec) = &self.def.tasks[i].kind else {
            return;
        };
        self.inst.tasks[i].child = Some(ChildRef {
            instance: end.child.clone(),
            ended: Some(end.status),
        });
        match end.status {
            InstanceStatus::Completed => {
                match self.output_mapping(i, &spec.output, &end.data, "call task") {
                    Ok(writes) => {
                        if !writes.is_empty() {
                            self.inst
                                .data
                                .extend(writes.iter().map(|(k, v)| (k.clone(), v.clone())));
                            self.emit(Some(i), EventKind::DataChanged { values: writes });
                        }
                        self.set_task(i, TaskStatus::EndedOk, None);
                    }
                    Err(reason) => self.fail(i, reason),
                }
            }
            InstanceStatus::Aborted if spec.abort_parent || end.aborted_by.is_some() => {
                // Asked for on the abort itself, it goes on up; asked for by this call, it
                // stops at this instance (whose own parent's call decides for itself).
                let by = end
                    .aborted_by
                    .clone()
                    .unwrap_or_else(|| "engine".to_owned());
                self.aborted_by = end.aborted_by;
                self.end_instance(
                    InstanceStatus::Aborted,
                    Some(Reason::ChildAborted {
                        child: end.child,
                        by,
                    }),
                );
            }
            status => {
                let reason = end.reason.map(|r| r.to_string());
                self.fail(
                    i,
                    Reason::ChildEnded {
                        child: end.child,
                        status: status.name().to_owned(),
                        reason,
                    },
                );
            }
        }
    }

    /// This instance just ended: if its parent waits for it (the link's rules), tell it.
    pub(crate) fn notify_parent(&mut self, status: InstanceStatus, reason: Option<&Reason>) {
        let Some(parent) = self.inst.parent.clone() else {
            return;
        };
        if !parent.rules().completes_before_parent {
            return;
        }
        let (data, reason) = match parent.kind {
            LinkKind::Iteration => (Map::new(), None),
            _ => (
                if status == InstanceStatus::Completed {
                    self.visible_data()
                } else {
                    Map::new()
                },
                reason.cloned().or_else(|| {
                    self.unhandled_failure()
                        .and_then(|i| self.inst.tasks[i].reason.clone())
                }),
            ),
        };
        let aborted_by = self
            .aborted_by
            .clone()
            .filter(|_| status == InstanceStatus::Aborted);
        self.effects.push(Effect::NotifyParent {
            parent,
            status,
            reason,
            data,
            aborted_by,
        });
    }

    /// Recovers the instance (see [`crate::hierarchy`]): every task that ended not OK and can
    /// run again is retried. `attempt` re-links a `call`ed child to its parent's call attempt.
    pub(crate) fn recover(
        &mut self,
        by: &str,
        attempt: Option<u32>,
    ) -> Result<(), TransitionError> {
        if matches!(
            self.inst.status,
            InstanceStatus::Completed | InstanceStatus::Aborted
        ) || self.inst.deleted_at.is_some()
        {
            return Err(TransitionError::NotRecoverable {
                status: self.inst.status.name().to_owned(),
            });
        }
        let failed: Vec<usize> = (0..self.def.tasks.len())
            .filter(|&i| self.inst.tasks[i].status == TaskStatus::EndedNotOk)
            .collect();
        let mut retried = Vec::new();
        for i in failed {
            let task = self.def.tasks[i].id.clone();
            match self.retry(&task, by) {
                Ok(()) => retried.push(task),
                // A failure a successor already acted on stays as it is (`retry` refuses it
                // before it changes anything).
                Err(TransitionError::SuccessorMoved { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        // Stardust: recovering the root recovers its spawned sub-processes that failed.
        for spawned in &mut self.inst.spawned {
            if spawned.ended == Some(InstanceStatus::Failed) {
                spawned.ended = None;
                self.effects.push(Effect::RecoverChild {
                    task: String::new(),
                    attempt: 0,
                    child: spawned.instance.clone(),
                    by: by.to_owned(),
                });
                retried.push(format!("spawned sub-process {}", spawned.instance));
            }
        }
        if retried.is_empty() {
            return Err(TransitionError::NothingToRecover {
                status: self.inst.status.name().to_owned(),
            });
        }
        if let (Some(attempt), Some(parent)) = (attempt, self.inst.parent.as_mut()) {
            parent.attempt = attempt;
        }
        self.emit(
            None,
            EventKind::Recovered {
                by: by.to_owned(),
                tasks: retried,
            },
        );
        if self.inst.status.is_terminal() {
            self.set_instance_status(
                InstanceStatus::Running,
                Some(Reason::Operator {
                    action: "recover".into(),
                    by: by.to_owned(),
                }),
            );
        }
        Ok(())
    }
}

/// Why the inline part of a handed-off child failed, if it did.
fn inline_failure(callee: &Callee, child: &Transition) -> Option<String> {
    let def = &callee.definition;
    if let Some((task, state)) = def
        .tasks
        .iter()
        .zip(&child.instance.tasks)
        .find(|(_, s)| s.status == TaskStatus::EndedNotOk)
    {
        let why = state
            .reason
            .as_ref()
            .map_or_else(String::new, |r| format!(": {r}"));
        return Some(format!("task `{}` ended not OK{why}", task.id));
    }
    match child.instance.status {
        InstanceStatus::Failed | InstanceStatus::Aborted => {
            Some(format!("the instance {}", child.instance.status))
        }
        _ => None,
    }
}
