//! Rework loops and sending a task back: the flow returns to an earlier task, which runs
//! again with the tasks after it.
//!
//! Two things return the flow: a decision's loop branch (`back_to: TASK`, at most
//! `max_loops` times), and a person's `task back TASK --to EARLIER`. Either way the tasks of
//! [`Definition::rework_range`](crate::definition::Definition::rework_range) go back to
//! `waiting_for_predecessor` (cause `rework`): the target, the tasks on the paths from it to
//! the task the flow returns from, that task, and every task after it. Work still under way
//! among them is stopped first (a job canceled, a human task terminated, a timer cleared),
//! as an abort stops it. Each task then runs again as a new attempt through its start
//! pipeline; history keeps every run, and process data stays as the loop left it.
//!
//! The predecessor rules hold on each pass as on the first: a task waits until all its
//! predecessors reached an end status, and a predecessor outside the loop keeps the end it
//! had, so a join of a loop task and an outside task waits only for the loop task again. A
//! dead path inside the loop is decided again on each pass. Tasks beside the loop (after the
//! target but not leading to the task the flow returns from) are left as they are.

use crate::definition::{LoopBack, TaskKind};
use crate::effect::Effect;
use crate::event::EventKind;
use crate::machine::{Machine, TransitionError};
use crate::people::Caller;
use crate::status::{Reason, TaskStatus};

impl Machine<'_> {
    /// Decision `d` took a loop branch: back to its target, unless the branch went back
    /// `max_loops` times already, which blocks the decision (the driver raises an incident).
    pub(crate) fn loop_back(&mut self, d: usize, back: LoopBack) {
        let to = self.def.tasks[back.target].id.clone();
        if self.inst.tasks[d].loops >= back.max_loops {
            self.set_status(
                d,
                TaskStatus::Blocked,
                Some(Reason::LoopLimit {
                    to: to.clone(),
                    limit: back.max_loops,
                }),
            );
            self.effects.push(Effect::LoopLimitReached {
                task: self.def.tasks[d].id.clone(),
                to,
                limit: back.max_loops,
            });
            return;
        }
        self.inst.tasks[d].loops += 1;
        let pass = self.inst.tasks[d].loops;
        self.inst.tasks[d].taken.clear();
        self.set_task(d, TaskStatus::EndedOk, None);
        let reason = Reason::LoopedBack {
            decision: self.def.tasks[d].id.clone(),
            pass,
            max: back.max_loops,
        };
        self.rework(back.target, d, &reason);
    }

    /// A person sends task `task` back to `earlier`, a task before it (see the module doc).
    pub(crate) fn send_back(
        &mut self,
        task: &str,
        earlier: &str,
        caller: &Caller,
    ) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        let to = self.index(earlier)?;
        if !self.may_send_back(i, caller) {
            return Err(TransitionError::NotAllowedToSendBack {
                task: task.to_owned(),
                user: caller.user.clone(),
            });
        }
        if !self.def.precedes(to, i) {
            return Err(TransitionError::NotBefore {
                task: task.to_owned(),
                earlier: earlier.to_owned(),
            });
        }
        if self.inst.tasks[i].status == TaskStatus::WaitingForPredecessor {
            return Err(TransitionError::NotReached {
                task: task.to_owned(),
            });
        }
        let reason = Reason::Operator {
            action: "back".into(),
            by: caller.user.clone(),
        };
        self.rework(to, i, &reason);
        Ok(())
    }

    /// An administrator, or for a `user` task one of its human task's potential owners or
    /// administrators.
    fn may_send_back(&self, i: usize, caller: &Caller) -> bool {
        if caller.admin {
            return true;
        }
        let Some(state) = self.inst.tasks[i].user_task.as_ref() else {
            return false;
        };
        let original = state.original();
        original.potential_owners.includes(caller) || original.administrators.includes(caller)
    }

    /// The tasks the loop branches of task `t` go back to (none unless it is a decision).
    fn loop_targets(&self, t: usize) -> impl Iterator<Item = usize> + '_ {
        let branches = match &self.def.tasks[t].kind {
            TaskKind::Decision(spec) => spec.branches.as_slice(),
            _ => &[],
        };
        branches
            .iter()
            .filter_map(|b| b.back.map(|back| back.target))
    }

    /// Returns the flow from task `from` to the earlier task `to`: every task of the range
    /// that left `waiting_for_predecessor` stops its work and waits again.
    fn rework(&mut self, to: usize, from: usize, reason: &Reason) {
        let range = self.def.rework_range(to, from);
        let mut again = Vec::new();
        for &t in &self.def.order {
            if !range[t] {
                continue;
            }
            // A loop inside the range (a loop in a loop: its decision and its target run
            // again) counts its loops afresh on the next pass; the decision that loops, and a
            // loop around this one, keep their counts.
            if t != from && self.loop_targets(t).any(|target| range[target]) {
                self.inst.tasks[t].loops = 0;
            }
            if self.inst.tasks[t].status == TaskStatus::WaitingForPredecessor {
                continue;
            }
            self.stop_work(t);
            let state = &mut self.inst.tasks[t];
            state.taken.clear();
            state.post_checked = false;
            state.restarts = 0;
            state.runs = 0;
            state.triggered = false;
            state.foreach = None;
            self.set_status(t, TaskStatus::WaitingForPredecessor, Some(reason.clone()));
            again.push(self.def.tasks[t].id.clone());
        }
        let by = match reason {
            Reason::Operator { by, .. } => Some(by.clone()),
            _ => None,
        };
        self.emit(
            Some(from),
            EventKind::WentBack {
                to: self.def.tasks[to].id.clone(),
                tasks: again,
                by,
            },
        );
    }
}
