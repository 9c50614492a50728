//! Automic's ForEach: a task whose body runs once per item of a list, each iteration a child
//! instance of the body definition (`process/task`) that sees `item` and `index`. Up to
//! `parallel` iterations run at once; the task ends `ended_ok` when every iteration completed,
//! else `ended_not_ok`.
//!
//! Iterations share the parent's data by reference: when the task starts, the process data and
//! the item list are stored once, as the run's snapshot ([`ForEachSnapshot`]), and every iteration reads
//! its data through it; an iteration stores only what it writes itself, which stays its own
//! (it is not merged back). The parent's state keeps counters and the set of open iterations
//! ([`ForEachProgress`]), not the list. A list longer than the engine's item limit ends the task
//! `ended_not_ok` before anything starts.
//!
//! Nothing is quadratic: a step starts at most [`LAUNCH_BATCH`] iterations (with room for more
//! it sets a timer due at once for the next ones), and the driver hands the ends of many
//! iterations to one step (`Command::IterationsEnded`), each recorded in one history event per
//! step rather than one per iteration.

use std::sync::Arc;

use serde_json::Value;

use crate::command::TimerKind;
use crate::data_type::json_type_name;
use crate::definition::{ForEachSpec, TaskKind};
use crate::effect::Effect;
use crate::event::{EventKind, IterationEnd};
use crate::instance::{ForEachProgress, ForEachSnapshot};
use crate::machine::{Machine, TransitionError};
use crate::status::{InstanceStatus, Reason, TaskStatus};

/// Most iterations one step starts: a step's work and its commit stay bounded however long the
/// list and however large `parallel` is. The engine takes up to as many iteration ends in one
/// step of the parent, so a long list costs few parent steps (each rewrites the parent's state,
/// process data and all).
pub const LAUNCH_BATCH: usize = 8192;

impl Machine<'_> {
    pub(crate) fn start_foreach(&mut self, i: usize, spec: &ForEachSpec) {
        // The list is usually a data variable, which the data size limit already admitted:
        // reading it must not fail on the (smaller) expression result limit.
        let mut limits = self.knowledge.eval_limits;
        limits.max_result_bytes = limits.max_result_bytes.max(self.knowledge.limits.max_bytes);
        let evaluated = spec.items.eval(&self.scope_for(i).with_limits(limits));
        // The items are kept in the run's snapshot (and each in its iteration): held to the data
        // limits as a value of process data is, so that what is stored reads back.
        if let Ok(list @ Value::Array(_)) = &evaluated {
            let what = || format!("the items of foreach task `{}`", self.def.tasks[i].id);
            if let Err(e) = self.knowledge.limits.check_member(list) {
                return self.fail(
                    i,
                    Reason::DataLimit {
                        what: what(),
                        problem: e.to_string(),
                    },
                );
            }
        }
        let items = match evaluated {
            Ok(Value::Array(items)) => items,
            Ok(other) => {
                return self.fail(
                    i,
                    Reason::NotAList {
                        found: json_type_name(&other).to_owned(),
                    },
                )
            }
            Err(e) => {
                return self.fail(
                    i,
                    Reason::ExpressionFailed {
                        field: "items".into(),
                        message: e.0,
                    },
                )
            }
        };
        if items.len() > self.knowledge.max_foreach_items {
            return self.fail(
                i,
                Reason::TooManyItems {
                    count: items.len(),
                    limit: self.knowledge.max_foreach_items,
                },
            );
        }
        if items.is_empty() {
            self.set_task(i, TaskStatus::EndedOk, None);
            return;
        }
        let attempt = self.inst.tasks[i].attempts;
        let snapshot = Arc::new(ForEachSnapshot::new(self.visible_data(), items));
        self.effects.push(Effect::ShareSnapshot {
            task: self.def.tasks[i].id.clone(),
            attempt,
            snapshot: snapshot.clone(),
        });
        self.inst.tasks[i].foreach = Some(ForEachProgress::new(snapshot.items.len()));
        self.set_task(
            i,
            TaskStatus::Running {
                attempt,
                since: self.now,
            },
            None,
        );
        self.launch_iterations(i, spec.parallel, &snapshot.items);
    }

    /// Starts the next iterations there is room for, at most [`LAUNCH_BATCH`], from `items`.
    fn launch_iterations(&mut self, i: usize, parallel: usize, items: &[Value]) {
        let Some(attempt) = self.running_attempt(i) else {
            return;
        };
        let Some(progress) = self.inst.tasks[i].foreach.as_mut() else {
            return;
        };
        let count = progress.room(parallel).min(LAUNCH_BATCH);
        if count == 0 {
            return;
        }
        let started = progress.launch(count);
        let more = progress.room(parallel) > 0;
        let task = self.def.tasks[i].id.clone();
        self.emit(
            Some(i),
            EventKind::IterationsStarted {
                first: started.start,
                count,
            },
        );
        for index in started {
            self.effects.push(Effect::StartIteration {
                task: task.clone(),
                attempt,
                index,
                item: items[index].clone(),
            });
        }
        if more {
            self.set_timer(i, TimerKind::LaunchIterations, self.now);
        }
    }

    /// Starts more iterations if there is room, from the run's snapshot (which the driver
    /// supplies), or, for a run stored with its item list in the parent, from that list, which
    /// moves into a snapshot now.
    fn launch_more(&mut self, i: usize, parallel: usize) {
        let Some(attempt) = self.running_attempt(i) else {
            return;
        };
        let Some(progress) = self.inst.tasks[i].foreach.as_mut() else {
            return;
        };
        if progress.room(parallel) == 0 {
            return;
        }
        let (total, legacy_items) = (progress.total, std::mem::take(&mut progress.legacy_items));
        let task = self.def.tasks[i].id.clone();
        let snapshot = if legacy_items.is_empty() {
            self.knowledge.foreach_snapshots.get(&task).cloned()
        } else {
            let snapshot = Arc::new(ForEachSnapshot::new(self.visible_data(), legacy_items));
            self.effects.push(Effect::ShareSnapshot {
                task,
                attempt,
                snapshot: snapshot.clone(),
            });
            Some(snapshot)
        };
        match snapshot {
            Some(snapshot) if snapshot.items.len() == total => {
                self.launch_iterations(i, parallel, &snapshot.items)
            }
            _ => {
                // A defect or a damaged store; the open iterations are stopped with the run.
                self.effects.push(Effect::AbortChildren {
                    task: self.def.tasks[i].id.clone(),
                });
                self.end_foreach_run(i);
                self.fail(i, Reason::SnapshotMissing { attempt });
            }
        }
    }

    /// The launch timer of a ForEach task fired: start the next iterations.
    pub(crate) fn launch_timer_fired(&mut self, i: usize) {
        if let TaskKind::ForEach(spec) = &self.def.tasks[i].kind {
            self.launch_more(i, spec.parallel);
        }
    }

    /// Applies the ends of iterations of ForEach task `task`. Each end counts once: one for an
    /// iteration that is not running (already counted, or never started) changes nothing.
    pub(crate) fn iterations_ended(
        &mut self,
        task: &str,
        ends: &[IterationEnd],
    ) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        let TaskKind::ForEach(spec) = &self.def.tasks[i].kind else {
            return Err(TransitionError::UnknownTask(task.to_owned()));
        };
        if self.running_attempt(i).is_none() {
            return Ok(());
        }
        let Some(progress) = self.inst.tasks[i].foreach.as_mut() else {
            return Ok(());
        };
        let mut completed = 0;
        let mut not_completed = Vec::new();
        for end in ends {
            let ok = end.status == InstanceStatus::Completed;
            if progress.end(end.index, ok) {
                if ok {
                    completed += 1;
                } else {
                    not_completed.push(*end);
                }
            }
        }
        if completed == 0 && not_completed.is_empty() {
            return Ok(());
        }
        if progress.next >= progress.total {
            // Everything started: a list kept from an older state is not needed any more.
            progress.legacy_items = Vec::new();
        }
        let (done, failed, total) = (progress.done(), progress.failed, progress.total);
        self.emit(
            Some(i),
            EventKind::IterationsEnded {
                completed,
                not_completed,
            },
        );
        if !done {
            self.launch_more(i, spec.parallel);
            return Ok(());
        }
        self.end_foreach_run(i);
        if failed == 0 {
            self.set_task(i, TaskStatus::EndedOk, None);
        } else {
            self.set_task(
                i,
                TaskStatus::EndedNotOk,
                Some(Reason::IterationsFailed { failed, total }),
            );
        }
        Ok(())
    }

    /// The run of running ForEach task `i` ends (all iterations ended, or the instance ends):
    /// its snapshot goes, and so does a pending launch timer.
    pub(crate) fn end_foreach_run(&mut self, i: usize) {
        if let Some(attempt) = self.running_attempt(i) {
            self.effects.push(Effect::DropSnapshot {
                task: self.def.tasks[i].id.clone(),
                attempt,
            });
        }
        self.clear_timer(i, TimerKind::LaunchIterations);
    }
}
