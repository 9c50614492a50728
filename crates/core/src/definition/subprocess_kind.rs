//! The `call` and `handoff` kinds' fields: the process they start (`process`, `version`), the
//! child's start data (`input`), and `output` and `abort_parent` (a `call`) or `work_status`
//! (a `handoff`).

use marked_yaml::types::MarkedMappingNode;

use super::compiled::{CallSpec, HandoffSpec, ProcessRef};
use super::controls::{scalar, ControlParser};
use super::parse::check_id;
use super::raw::RawTask;

/// Longest `work_status` label.
pub const MAX_WORK_STATUS_LEN: usize = 200;

impl ControlParser<'_, '_> {
    pub(super) fn call_task(
        &mut self,
        raw: &RawTask,
        task: &MarkedMappingNode,
    ) -> Option<CallSpec> {
        let target = self.process_ref(raw, task, "call");
        let input = self.child_input(task);
        let output = match task.get_node("output") {
            Some(n) => self.mapping(n, "output", true),
            None => Some(Vec::new()),
        };
        let abort_parent = match task.get_node("abort_parent") {
            Some(n) => self.boolean(n, "abort_parent"),
            None => Some(false),
        };
        Some(CallSpec {
            target: target?,
            input: input?,
            output: output?,
            abort_parent: abort_parent?,
        })
    }

    pub(super) fn handoff_task(
        &mut self,
        raw: &RawTask,
        task: &MarkedMappingNode,
    ) -> Option<HandoffSpec> {
        let target = self.process_ref(raw, task, "handoff");
        let input = self.child_input(task);
        let work_status = match task.get_node("work_status") {
            None => Some(None),
            Some(n) => match scalar(n) {
                Some(label)
                    if !label.trim().is_empty()
                        && label.len() <= MAX_WORK_STATUS_LEN
                        && !label.chars().any(char::is_control) =>
                {
                    Some(Some(label.to_owned()))
                }
                _ => {
                    self.error(
                        n,
                        format!(
                            "`work_status` is a label of 1 to {MAX_WORK_STATUS_LEN} characters"
                        ),
                        Some("for example `work_status: Pending-Fulfillment`".into()),
                    );
                    None
                }
            },
        };
        Some(HandoffSpec {
            target: target?,
            input: input?,
            work_status: work_status?,
        })
    }

    fn child_input(
        &mut self,
        task: &MarkedMappingNode,
    ) -> Option<Vec<(String, crate::expr::Expr)>> {
        match task.get_node("input") {
            Some(n) => self.mapping(n, "input", false),
            None => Some(Vec::new()),
        }
    }

    fn process_ref(
        &mut self,
        raw: &RawTask,
        task: &MarkedMappingNode,
        kind: &str,
    ) -> Option<ProcessRef> {
        let Some(process_node) = task.get_node("process") else {
            self.diags.error(
                super::pos_of(raw.id.span()),
                format!(
                    "{kind} task `{}` needs `process`: the id of the deployed process it starts",
                    raw.id.as_str()
                ),
                Some("for example `process: fulfill-offer`".into()),
            );
            return None;
        };
        let process = match scalar(process_node) {
            Some(id) => match check_id("process", id) {
                Ok(()) => Some(id.to_owned()),
                Err((message, hint)) => {
                    self.error(process_node, message, Some(hint));
                    None
                }
            },
            None => {
                self.error(process_node, "`process` is a process id", None);
                None
            }
        };
        let version = match task.get_node("version") {
            None => Some(None),
            Some(n) => match scalar(n)
                .and_then(|s| s.parse::<u32>().ok())
                .filter(|v| *v > 0)
            {
                Some(v) => Some(Some(v)),
                None => {
                    self.error(
                        n,
                        "`version` is a deployed version number (1, 2, …)",
                        Some("leave it out to start the latest version".into()),
                    );
                    None
                }
            },
        };
        Some(ProcessRef {
            process: process?,
            version: version?,
        })
    }
}
