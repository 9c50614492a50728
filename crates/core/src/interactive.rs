//! `view` tasks: the steps of Siebel's interactive workflows that show a view (a form) to the
//! user driving the workflow and wait for their next action.
//!
//! A `view` task that starts becomes `waiting_for_user_input` (showing its view); the user's
//! submission ([`Command::Submit`](crate::Command)) is checked against the view's form (every
//! problem named, nothing changed when there is one), its `output` mapping (or the fields named
//! like declared data) writes process data, and the task ends `ended_ok`. Which user may
//! submit is the session's to check: the core records who did.

use serde_json::{Map, Value};

use crate::definition::{TaskKind, ViewSpec};
use crate::event::EventKind;
use crate::machine::{Machine, TransitionError};
use crate::status::{Reason, TaskStatus};

impl Machine<'_> {
    /// Task `i`, a `view` task, shows its view and waits for its user.
    pub(crate) fn show_view(&mut self, i: usize, spec: &ViewSpec) {
        self.set_status(
            i,
            TaskStatus::WaitingForUserInput,
            Some(Reason::ShowingView {
                title: spec.title.clone(),
            }),
        );
    }

    /// The user submitted view task `task` with `data`.
    pub(crate) fn submit_view(
        &mut self,
        task: &str,
        data: Map<String, Value>,
        by: &str,
    ) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        let TaskKind::View(spec) = &self.def.tasks[i].kind else {
            return Err(TransitionError::NotAView {
                task: task.to_owned(),
                kind: self.def.tasks[i].kind.name(),
            });
        };
        if self.inst.tasks[i].status != TaskStatus::WaitingForUserInput {
            return Err(TransitionError::ViewNotShown {
                task: task.to_owned(),
                status: self.inst.tasks[i].status.name().to_owned(),
            });
        }
        let problems = crate::user_task::form_problems(&spec.form, &data);
        if !problems.is_empty() {
            return Err(TransitionError::InvalidSubmission {
                task: task.to_owned(),
                problems,
            });
        }
        match self.form_output_writes(i, spec.output.as_deref(), &spec.form, &data, "view")? {
            Err(reason) => self.fail(i, reason),
            Ok(writes) => {
                if !writes.is_empty() {
                    self.inst.data.extend(writes.clone());
                    self.emit(Some(i), EventKind::DataChanged { values: writes });
                }
                self.set_task(
                    i,
                    TaskStatus::EndedOk,
                    Some(Reason::Submitted { by: by.to_owned() }),
                );
            }
        }
        Ok(())
    }
}
