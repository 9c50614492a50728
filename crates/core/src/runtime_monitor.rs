//! What happens while and after a task runs (Automic's "Processes After the Task is
//! Generated"): the maximum runtime is watched by a durable timer, the minimum runtime is
//! checked at the end, and postconditions are evaluated once after the end.

use crate::definition::{Action, EndAs};
use crate::effect::Effect;
use crate::event::EventKind;
use crate::machine::Machine;
use crate::status::{InstanceStatus, Reason, TaskStatus};

impl Machine<'_> {
    pub(crate) fn set_task(&mut self, i: usize, status: TaskStatus, reason: Option<Reason>) {
        let ended_by_running = matches!(
            status,
            TaskStatus::EndedOk | TaskStatus::EndedNotOk | TaskStatus::EndedTimeout
        );
        self.set_status(i, status, reason);
        // Automic: "When a task has ended, you can verify further conditions … The complete
        // verification process takes place only once." Not for ENDED_INACTIVE.
        if ended_by_running {
            self.postconditions_once(i);
        }
    }

    /// Runs the task's postconditions unless they already ran for this run of the task.
    pub(crate) fn postconditions_once(&mut self, i: usize) {
        if !self.inst.tasks[i].post_checked && !self.def.tasks[i].controls.postconditions.is_empty()
        {
            self.inst.tasks[i].post_checked = true;
            self.postconditions(i);
        }
    }

    pub(crate) fn fail(&mut self, i: usize, reason: Reason) {
        self.set_task(i, TaskStatus::EndedNotOk, Some(reason));
    }

    /// The job's maximum runtime passed: cancel it, end it with a status, start another task,
    /// or only alert. "The following Workflow tasks are processed as usual."
    pub(crate) fn max_runtime_exceeded(&mut self, i: usize, attempt: u32) {
        let Some(limit) = self.def.tasks[i].controls.max_runtime else {
            return;
        };
        let reason = Reason::MaxRuntimeExceeded {
            limit_ms: limit.limit.as_millis() as u64,
            action: limit.action.name().to_owned(),
        };
        let task = self.def.tasks[i].id.clone();
        match limit.action {
            Action::Cancel => {
                self.effects.push(Effect::CancelJob { task, attempt });
                self.set_task(i, TaskStatus::Canceled, Some(reason));
            }
            Action::End(end) => {
                self.effects.push(Effect::CancelJob { task, attempt });
                let status = if end == EndAs::Ok {
                    TaskStatus::EndedOk
                } else {
                    TaskStatus::EndedNotOk
                };
                self.set_task(i, status, Some(reason));
            }
            Action::Abort => self.end_instance(InstanceStatus::Aborted, Some(reason)),
            Action::Run(other) => {
                self.emit(Some(i), EventKind::Alert { reason });
                self.trigger(other, i, "max_runtime");
            }
            _ => self.emit(Some(i), EventKind::Alert { reason }),
        }
    }

    /// Checks the minimum runtime when a job ends. Returns true when its action decided the
    /// task's end (so the caller does not end it again).
    pub(crate) fn min_runtime_not_met(&mut self, i: usize, ran_ms: u64, code: i32) -> bool {
        let Some(limit) = self.def.tasks[i].controls.min_runtime else {
            return false;
        };
        let limit_ms = limit.limit.as_millis() as u64;
        if ran_ms >= limit_ms || code != 0 {
            return false;
        }
        let reason = Reason::MinRuntimeNotMet {
            ran_ms,
            limit_ms,
            action: limit.action.name().to_owned(),
        };
        match limit.action {
            Action::End(EndAs::NotOk) => self.set_task(i, TaskStatus::EndedNotOk, Some(reason)),
            Action::End(EndAs::Ok) => self.set_task(i, TaskStatus::EndedOk, Some(reason)),
            Action::Block => self.set_task(i, TaskStatus::Blocked, Some(reason)),
            Action::Abort => {
                self.set_task(i, TaskStatus::EndedNotOk, Some(reason.clone()));
                self.end_instance(InstanceStatus::Aborted, Some(reason));
            }
            Action::Run(other) => {
                self.emit(Some(i), EventKind::Alert { reason });
                self.trigger(other, i, "min_runtime");
                return false;
            }
            _ => {
                self.emit(Some(i), EventKind::Alert { reason });
                return false;
            }
        }
        true
    }

    /// Evaluates the task's postconditions once, in order; each applies `then` when its
    /// condition holds and `else` when not. An action that ends the task or the workflow stops
    /// the evaluation.
    pub(crate) fn postconditions(&mut self, i: usize) {
        for n in 0..self.def.tasks[i].controls.postconditions.len() {
            let post = &self.def.tasks[i].controls.postconditions[n];
            let held = post.when.eval_bool(&self.scope_for(i));
            let (held, action) = match held {
                Ok(true) => (true, post.then),
                Ok(false) => (false, post.otherwise),
                Err(e) => {
                    let reason = Reason::ExpressionFailed {
                        field: format!("postconditions[{n}].if"),
                        message: e.0,
                    };
                    self.set_status(i, TaskStatus::EndedNotOk, Some(reason));
                    return;
                }
            };
            let condition = post.when.source().to_owned();
            self.emit(
                Some(i),
                EventKind::PostconditionEvaluated {
                    condition: condition.clone(),
                    held,
                    action: action.name().to_owned(),
                },
            );
            let reason = Reason::Postcondition {
                condition,
                action: action.name().to_owned(),
            };
            match action {
                Action::Continue | Action::Alert | Action::Wait | Action::Skip | Action::Cancel => {
                }
                Action::End(EndAs::Ok) => self.set_status(i, TaskStatus::EndedOk, Some(reason)),
                Action::End(EndAs::NotOk) => {
                    self.set_status(i, TaskStatus::EndedNotOk, Some(reason))
                }
                Action::Block => {
                    self.set_status(i, TaskStatus::Blocked, Some(reason));
                    return;
                }
                Action::Abort => {
                    self.end_instance(InstanceStatus::Aborted, Some(reason));
                    return;
                }
                Action::Run(other) => self.trigger(other, i, "postcondition"),
                Action::Restart => {
                    let max = self.def.tasks[i].controls.max_restarts;
                    if self.inst.tasks[i].restarts >= max {
                        let reason = Reason::Postcondition {
                            condition: format!(
                                "{} (restart limit {max} reached)",
                                post_source(self, i, n)
                            ),
                            action: "continue".into(),
                        };
                        self.emit(Some(i), EventKind::Alert { reason });
                        continue;
                    }
                    self.inst.tasks[i].restarts += 1;
                    self.inst.tasks[i].post_checked = false;
                    self.set_status(i, TaskStatus::WaitingForPredecessor, Some(reason));
                    return;
                }
            }
        }
    }
}

fn post_source(m: &Machine<'_>, i: usize, n: usize) -> String {
    m.def.tasks[i].controls.postconditions[n]
        .when
        .source()
        .to_owned()
}
