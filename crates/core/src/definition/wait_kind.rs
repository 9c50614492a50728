//! The `wait` kind's fields: the event it waits for (`event`), its correlation key (`key`, CEL
//! evaluated when it begins waiting), a further `condition` over `event` and `data`, the
//! `output` mapping of the event's payload into process data, and its `timeout`.

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::Spanned;

use super::compiled::{wire_name_problem, WaitSpec};
use super::controls::{scalar, ControlParser};
use super::raw::RawTask;
use crate::expr::EVENT_VARIABLE;

impl ControlParser<'_, '_> {
    pub(super) fn wait_task(
        &mut self,
        raw: &RawTask,
        task: &MarkedMappingNode,
    ) -> Option<WaitSpec> {
        let event = match task.get_node("event") {
            None => {
                self.diags.error(
                    super::pos_of(raw.id.span()),
                    format!(
                        "wait task `{}` needs `event`: the name of the event it waits for",
                        raw.id.as_str()
                    ),
                    Some("for example `event: payment-received`".into()),
                );
                None
            }
            Some(n) => match scalar(n) {
                Some(name) => match wire_name_problem("event name", name) {
                    None => Some(name.to_owned()),
                    Some(problem) => {
                        self.error(
                            n,
                            format!(
                                "event name `{}` is not allowed: {problem}",
                                name.escape_default()
                            ),
                            None,
                        );
                        None
                    }
                },
                None => {
                    self.error(
                        n,
                        "`event` is the name of an event",
                        Some("for example `event: payment-received`".into()),
                    );
                    None
                }
            },
        };
        let key = self.optional_expr(task, "key", &[]);
        let condition = self.optional_expr(task, "condition", &[EVENT_VARIABLE]);
        let output = match task.get_node("output") {
            Some(n) => self.mapping_over(
                n,
                "output",
                true,
                &[EVENT_VARIABLE],
                "`output: {paid: event.amount}`",
            ),
            None => Some(Vec::new()),
        };
        let timeout = match task.get_node("timeout") {
            Some(n) => self.duration(n, "timeout").map(Some),
            None => Some(None),
        };
        Some(WaitSpec {
            event: event?,
            key: key?,
            condition: condition?,
            output: output?,
            timeout: timeout?,
        })
    }

    /// An optional CEL field that may also use the `extra` variables: `Some(None)` when absent.
    fn optional_expr(
        &mut self,
        task: &MarkedMappingNode,
        field: &str,
        extra: &[&str],
    ) -> Option<Option<crate::expr::Expr>> {
        let Some(n) = task.get_node(field) else {
            return Some(None);
        };
        let Some(text) = scalar(n) else {
            self.error(n, format!("`{field}` must be a CEL expression"), None);
            return None;
        };
        let spanned = Spanned::new(*n.span(), text.to_owned());
        self.diags.expr_with(&spanned, field, extra).map(Some)
    }
}
