//! Automic's ForEach: a task whose body runs once per item of a list, each iteration a child
//! instance of the body definition (`process/task`) that sees `item` and `index`, with a copy
//! of the process data. Up to `parallel` iterations run at once; the task ends `ended_ok`
//! when every iteration completed, else `ended_not_ok`.

use serde_json::Value;

use crate::definition::{json_type_name, ForEachSpec, MAX_ITEMS};
use crate::event::EventKind;
use crate::instance::ForEachProgress;
use crate::status::{InstanceStatus, Reason, TaskStatus};
use crate::step::{Effect, Machine, TransitionError};

impl Machine<'_> {
    pub(crate) fn start_foreach(&mut self, i: usize, spec: &ForEachSpec) {
        let evaluated = spec.items.eval(&self.scope_for(i));
        // The items are kept in the task's state (and each in its iteration's): held to the data
        // limits as a value of process data is.
        if let Ok(list @ Value::Array(_)) = &evaluated {
            let what = || format!("the items of foreach task `{}`", self.def.tasks[i].id);
            if let Err(e) = self.knowledge.limits.check_member(list) {
                return self.fail(i, Reason::DataLimit { what: what(), problem: e.to_string() });
            }
        }
        let items = match evaluated {
            Ok(Value::Array(items)) if items.len() > MAX_ITEMS => return self.fail(i, Reason::TooManyItems { found: items.len(), limit: MAX_ITEMS }),
            Ok(Value::Array(items)) => items,
            Ok(other) => return self.fail(i, Reason::NotAList { found: json_type_name(&other).to_owned() }),
            Err(e) => return self.fail(i, Reason::ExpressionFailed { field: "items".into(), message: e.0 }),
        };
        if items.is_empty() {
            self.set_task(i, TaskStatus::EndedOk, None);
            return;
        }
        self.inst.tasks[i].foreach = Some(ForEachProgress { items, next: 0, running: 0, completed: 0, failed: 0, finished: Vec::new() });
        let attempt = self.inst.tasks[i].attempts;
        self.set_task(i, TaskStatus::Running { attempt, since: self.now }, None);
        self.launch_iterations(i, spec.parallel);
    }

    fn launch_iterations(&mut self, i: usize, parallel: usize) {
        loop {
            let Some(progress) = self.inst.tasks[i].foreach.as_mut() else { return };
            if progress.running >= parallel || progress.next >= progress.items.len() {
                return;
            }
            let index = progress.next;
            let item = progress.items[index].clone();
            progress.next += 1;
            progress.running += 1;
            self.emit(Some(i), EventKind::IterationStarted { index });
            self.effects.push(Effect::StartIteration { task: self.def.tasks[i].id.clone(), index, item, data: self.inst.data.clone() });
        }
    }

    pub(crate) fn iteration_ended(&mut self, task: &str, index: usize, status: InstanceStatus) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        let crate::definition::TaskKind::ForEach(spec) = &self.def.tasks[i].kind else {
            return Err(TransitionError::UnknownTask(task.to_owned()));
        };
        let running = matches!(self.inst.tasks[i].status, TaskStatus::Running { .. });
        let Some(progress) = self.inst.tasks[i].foreach.as_mut() else { return Ok(()) };
        // Delivered at least once: an iteration's end counts once.
        if !running || progress.finished.contains(&index) || index >= progress.next {
            return Ok(());
        }
        progress.finished.push(index);
        progress.running -= 1;
        if status == InstanceStatus::Completed {
            progress.completed += 1;
        } else {
            progress.failed += 1;
        }
        let (done, failed, total) = (progress.finished.len(), progress.failed, progress.items.len());
        self.emit(Some(i), EventKind::IterationEnded { index, status });
        if done == total {
            if failed == 0 {
                self.set_task(i, TaskStatus::EndedOk, None);
            } else {
                self.set_task(i, TaskStatus::EndedNotOk, Some(Reason::IterationsFailed { failed, total }));
            }
        } else {
            self.launch_iterations(i, spec.parallel);
        }
        Ok(())
    }
}
