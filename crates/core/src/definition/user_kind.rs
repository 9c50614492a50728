//! The `user` task kind as written in a definition: a human task (the IBM follow-on tasks seed,
//! the human-task lifecycle) with its title and description, potential owners and administrators, priority, due
//! date, typed form, input and output mappings, expiration with its expiry path, escalations
//! and subtask policy. Read from the task's YAML node so that every problem is reported at its
//! own line and column.
//!
//! Text fields and assignments are plain text unless they start with `=`, in which case the
//! rest is a CEL expression evaluated when the task is created (Camunda's convention for FEEL
//! expressions, so no template syntax is needed): `title: ="Review " + data.article`.

use std::time::Duration;

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::{Node, Spanned};
use serde_json::Value;

use super::controls::{scalar, ControlParser};
use super::parse::node_pos;
use super::{pos_of, Action, DataType};
use crate::expr::{Expr, OUTPUT_VARIABLE};
use crate::user_task::{
    EscalationAction, EscalationSpec, EscalationStart, ExpectedState, FieldType, FormField,
    PotentialOwners, SubtaskPolicy,
};

/// A `user` task: what the engine needs to create its human task when the task starts.
#[derive(Debug, Clone)]
pub struct UserTaskDef {
    pub title: Text,
    pub description: Option<Text>,
    /// Potential owners: users, `group:NAME`, or expressions giving them.
    pub owners: Vec<Assignee>,
    /// Who may act on the task beyond its owners (claim, terminate, escalate, delete…).
    pub administrators: Vec<Assignee>,
    /// Higher is more urgent.
    pub priority: Priority,
    /// The due date, this long after the task is created.
    pub due: Option<Duration>,
    /// The typed output fields the owner fills in; `complete` is checked against them.
    pub form: Vec<FormField>,
    /// The human task's input: `name: CEL`; without it, a copy of the process data.
    pub input: Option<Vec<(String, Expr)>>,
    /// Process data written when the task ends OK: `variable: CEL` over `output` (and `data`).
    /// Without it, output fields named like declared data variables are copied to them.
    pub output: Option<Vec<(String, Expr)>>,
    /// The chain expires this long after the task is created: its last task becomes `expired`.
    pub expires_after: Option<Duration>,
    /// What the process does when the task expires: `continue` (the task ends `expired`, and
    /// successors depend on that status as on any other), `{end: ended_ok|ended_not_ok}`,
    /// `{run: TASK}` or `abort`.
    pub on_expiry: Action,
    pub escalations: Vec<EscalationSpec>,
    pub subtasks: SubtaskPolicy,
}

/// Text in a definition: plain, or a CEL expression (written with a leading `=`).
#[derive(Debug, Clone)]
pub enum Text {
    Plain(String),
    Expr(Expr),
}

/// One entry of `owners` or `administrators`.
#[derive(Debug, Clone)]
pub enum Assignee {
    /// A user (`sarah`, `user:sarah`) or a group (`group:legal`).
    Named(PotentialOwners),
    /// A CEL expression giving a name, a list of names or `{users: [...], groups: [...]}`.
    Expr(Expr),
}

#[derive(Debug, Clone)]
pub enum Priority {
    Fixed(i32),
    Expr(Expr),
}

fn field_type(name: &str) -> Option<FieldType> {
    FieldType::parse(name)
}

/// Can a form field of type `field` be written to a variable of type `data`?
fn fits(field: FieldType, data: DataType) -> bool {
    match (field, data) {
        (FieldType::Any, _) | (_, DataType::Any) => true,
        (FieldType::Integer, DataType::Number) => true,
        (f, d) => f.name() == d.name(),
    }
}

impl ControlParser<'_, '_> {
    /// Reads a `user` task's fields from its mapping.
    pub(super) fn user_task(
        &mut self,
        id: &Spanned<String>,
        name: Option<&str>,
        task: &MarkedMappingNode,
    ) -> Option<UserTaskDef> {
        let before = self.diags.items.len();
        let title = match task.get_node("title") {
            Some(n) => self.text(n, "title"),
            None => Some(Text::Plain(name.unwrap_or(id.as_str()).to_owned())),
        };
        let description = task
            .get_node("description")
            .and_then(|n| self.text(n, "description"));
        let owners = match task.get_node("owners") {
            Some(n) => self.assignees(n, "owners"),
            None => {
                self.diags.error(
                    pos_of(id.span()),
                    format!("user task `{}` needs `owners`, the people who may claim it", id.as_str()),
                    Some("for example `owners: [group:editors]`, `owners: [john, sarah]` or `owners: =data.reviewer`".into()),
                );
                None
            }
        };
        let administrators = match task.get_node("administrators") {
            Some(n) => self.assignees(n, "administrators"),
            None => Some(Vec::new()),
        };
        let priority = match task.get_node("priority") {
            None => Some(Priority::Fixed(0)),
            Some(n) => self.priority(n),
        };
        let due = task.get_node("due").and_then(|n| self.duration(n, "due"));
        let form = match task.get_node("form") {
            Some(n) => self.form(n),
            None => Some(Vec::new()),
        };
        let input = task
            .get_node("input")
            .map(|n| self.mapping(n, "input", false));
        let output = task
            .get_node("output")
            .map(|n| self.mapping(n, "output", true));
        let expires_after = task
            .get_node("expires_after")
            .and_then(|n| self.duration(n, "expires_after"));
        let on_expiry = match task.get_node("on_expiry") {
            None => Some(Action::Continue),
            Some(n) if task.get_node("expires_after").is_none() => {
                self.error(
                    n,
                    "`on_expiry` needs `expires_after`, the time after which the task expires",
                    Some("for example `expires_after: 3 days`".into()),
                );
                None
            }
            Some(n) => self.action(n, "on_expiry", &["continue", "end", "run", "abort"]),
        };
        let escalations = match task.get_node("escalations") {
            Some(n) => self.escalations(n, task.get_node("due").is_some()),
            None => Some(Vec::new()),
        };
        let subtasks = match task.get_node("subtasks") {
            None => Some(SubtaskPolicy::WaitForSubtasks),
            Some(n) => match scalar(n) {
                Some("wait") => Some(SubtaskPolicy::WaitForSubtasks),
                Some("end") => Some(SubtaskPolicy::EndOpenSubtasks),
                _ => {
                    self.error(
                        n,
                        "`subtasks` is `wait` or `end`",
                        Some("`wait`: the task completes only once its subtasks ended; `end`: completing it terminates them".into()),
                    );
                    None
                }
            },
        };
        if let (Some(form), None) = (&form, &output) {
            self.check_default_output(task, form);
        }
        if self.diags.items.len() != before {
            return None;
        }
        Some(UserTaskDef {
            title: title?,
            description,
            owners: owners?,
            administrators: administrators?,
            priority: priority?,
            due,
            form: form?,
            input: input.flatten(),
            output: output.flatten(),
            expires_after,
            on_expiry: on_expiry?,
            escalations: escalations?,
            subtasks: subtasks?,
        })
    }

    /// A CEL expression written after `=` in a scalar; positions point into the file.
    fn equals_expr(&mut self, node: &Node, field: &str, extra: &[&str]) -> Option<Expr> {
        let text = scalar(node).unwrap_or_default();
        // Blank the `=` rather than cut it, so that columns inside the expression stay put.
        let blanked = text.replacen('=', " ", 1);
        let spanned = Spanned::new(*node.span(), blanked);
        self.diags.expr_with(&spanned, field, extra)?;
        Expr::compile_with(text[1..].trim(), extra).ok()
    }

    fn text(&mut self, node: &Node, field: &str) -> Option<Text> {
        let Some(text) = scalar(node) else {
            self.error(
                node,
                format!("`{field}` must be text"),
                Some("plain text, or `=` followed by a CEL expression".into()),
            );
            return None;
        };
        if text.starts_with('=') {
            return self.equals_expr(node, field, &[]).map(Text::Expr);
        }
        Some(Text::Plain(text.to_owned()))
    }

    fn assignees(&mut self, node: &Node, field: &str) -> Option<Vec<Assignee>> {
        let items: Vec<&Node> = match node {
            Node::Sequence(items) => items.iter().collect(),
            Node::Scalar(_) => vec![node],
            Node::Mapping(_) => {
                self.error(
                    node,
                    format!("`{field}` is a name or a list of names"),
                    Some(
                        "users by name, groups as `group:NAME`, expressions as `=data.reviewer`"
                            .into(),
                    ),
                );
                return None;
            }
        };
        if items.is_empty() {
            self.error(
                node,
                format!("`{field}` names nobody"),
                Some("name at least one user or `group:NAME`".into()),
            );
            return None;
        }
        let mut out = Vec::new();
        for item in items {
            let Some(text) = scalar(item) else {
                self.error(
                    item,
                    format!("an entry of `{field}` must be a name"),
                    Some("a user, `group:NAME` or `=EXPRESSION`".into()),
                );
                continue;
            };
            if text.starts_with('=') {
                if let Some(e) = self.equals_expr(item, field, &[]) {
                    out.push(Assignee::Expr(e));
                }
                continue;
            }
            let mut named = PotentialOwners::default();
            let bad_prefix = text
                .split_once(':')
                .is_some_and(|(prefix, _)| !matches!(prefix, "user" | "group"));
            match named.add_resolved(&Value::String(text.to_owned())) {
                Ok(())
                    if !bad_prefix
                        && !named
                            .users
                            .iter()
                            .chain(&named.groups)
                            .any(String::is_empty) =>
                {
                    out.push(Assignee::Named(named))
                }
                _ => self.error(
                    item,
                    format!("`{text}` in `{field}` is not a user or a group"),
                    Some("write a user name, `group:NAME` or `=EXPRESSION`".into()),
                ),
            }
        }
        Some(out)
    }

    fn priority(&mut self, node: &Node) -> Option<Priority> {
        match scalar(node) {
            Some(text) if text.starts_with('=') => {
                self.equals_expr(node, "priority", &[]).map(Priority::Expr)
            }
            Some(text) => {
                match text.parse::<i32>() {
                    Ok(n) => Some(Priority::Fixed(n)),
                    Err(_) => {
                        self.error(
                        node,
                        "`priority` must be a whole number",
                        Some("higher is more urgent; `=EXPRESSION` computes it from process data".into()),
                    );
                        None
                    }
                }
            }
            None => {
                self.error(node, "`priority` must be a whole number", None);
                None
            }
        }
    }

    pub(super) fn form(&mut self, node: &Node) -> Option<Vec<FormField>> {
        let Some(map) = node.as_mapping() else {
            self.error(
                node,
                "`form` maps field names to types",
                Some("for example `form: {approved: boolean, comments: {type: string, required: false}}`".into()),
            );
            return None;
        };
        let types: Vec<&str> = [
            "string", "integer", "number", "boolean", "object", "list", "any",
        ]
        .to_vec();
        let mut fields = Vec::new();
        let mut ok = true;
        for (key, value) in map.iter() {
            let (ty_node, required, description) = match value {
                Node::Scalar(_) => (value, true, None),
                Node::Mapping(m) => {
                    if !self.keys_known(m, &["type", "required", "description"], "a form field") {
                        ok = false;
                        continue;
                    }
                    let Some(ty) = m.get_node("type") else {
                        self.diags.error(
                            node_pos(value),
                            format!("form field `{}` needs `type`", key.as_str()),
                            Some(format!("use one of: {}", types.join(", "))),
                        );
                        ok = false;
                        continue;
                    };
                    let required = match m.get_node("required") {
                        Some(n) => self.boolean(n, "required").unwrap_or(true),
                        None => true,
                    };
                    (
                        ty,
                        required,
                        m.get_node("description")
                            .and_then(scalar)
                            .map(str::to_owned),
                    )
                }
                Node::Sequence(_) => {
                    self.error(
                        value,
                        format!(
                            "form field `{}` is a type or `{{type, required, description}}`",
                            key.as_str()
                        ),
                        None,
                    );
                    ok = false;
                    continue;
                }
            };
            match scalar(ty_node).and_then(field_type) {
                Some(ty) => fields.push(FormField {
                    name: key.as_str().to_owned(),
                    ty,
                    required,
                    description,
                }),
                None => {
                    self.error(
                        ty_node,
                        format!(
                            "unknown type `{}` for form field `{}`",
                            scalar(ty_node).unwrap_or("?"),
                            key.as_str()
                        ),
                        Some(format!("use one of: {}", types.join(", "))),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(fields)
    }

    /// `input` (`name: CEL`) or `output` (`variable: CEL` over `output`, targets declared data).
    pub(super) fn mapping(
        &mut self,
        node: &Node,
        field: &str,
        output: bool,
    ) -> Option<Vec<(String, Expr)>> {
        let (extra, example): (&[&str], &str) = if output {
            (
                &[OUTPUT_VARIABLE],
                "`output: {approved: output.decision == 'yes'}`",
            )
        } else {
            (&[], "`input: {article: data.article}`")
        };
        self.mapping_over(node, field, output, extra, example)
    }

    /// A mapping `name: CEL` whose expressions may use the `extra` variables; with `to_data`
    /// its names are declared data variables it writes.
    pub(super) fn mapping_over(
        &mut self,
        node: &Node,
        field: &str,
        to_data: bool,
        extra: &[&str],
        example: &str,
    ) -> Option<Vec<(String, Expr)>> {
        let output = to_data;
        let Some(map) = node.as_mapping() else {
            self.error(
                node,
                format!("`{field}` maps names to CEL expressions"),
                Some(format!("for example {example}")),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (key, value) in map.iter() {
            if output && !self.data.contains_key(key.as_str()) {
                let declared = self.diags.data_candidates(self.data);
                self.diags.unknown_name(
                    pos_of(key.span()),
                    format!("`{}` is not declared under `data`", key.as_str()),
                    key.as_str(),
                    declared,
                    Some(format!(
                        "declare it: `data: {{{}: {{type: any}}}}`",
                        key.as_str()
                    )),
                );
                ok = false;
                continue;
            }
            let Some(text) = scalar(value) else {
                self.error(
                    value,
                    format!("`{field}.{}` must be a CEL expression", key.as_str()),
                    None,
                );
                ok = false;
                continue;
            };
            let spanned = Spanned::new(*value.span(), text.to_owned());
            match self
                .diags
                .expr_with(&spanned, &format!("{field}.{}", key.as_str()), extra)
            {
                Some(e) => out.push((key.as_str().to_owned(), e)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// Without an `output` mapping, form fields named like declared variables are copied to
    /// them: their types must fit.
    fn check_default_output(&mut self, task: &MarkedMappingNode, form: &[FormField]) {
        let Some(form_node) = task.get_mapping("form") else {
            return;
        };
        for field in form {
            let Some(decl) = self.data.get(&field.name) else {
                continue;
            };
            if fits(field.ty, decl.ty) {
                continue;
            }
            let at = form_node
                .keys()
                .find(|k| k.as_str() == field.name)
                .map_or_else(|| pos_of(task.span()), |k| pos_of(k.span()));
            self.diags.error(
                at,
                format!(
                    "form field `{}` is {} but the data variable `{}` it is copied to is {}",
                    field.name,
                    field.ty.name(),
                    field.name,
                    decl.ty.name()
                ),
                Some("give both the same type, or map the output yourself with `output:`".into()),
            );
        }
    }

    fn escalations(&mut self, node: &Node, has_due: bool) -> Option<Vec<EscalationSpec>> {
        let Some(items) = node.as_sequence() else {
            self.error(
                node,
                "`escalations` is a list",
                Some("for example `- {after: PT2H, action: raise_priority}`".into()),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (n, item) in items.iter().enumerate() {
            match self.escalation(item, n, has_due) {
                Some(e) => out.push(e),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn escalation(&mut self, item: &Node, n: usize, has_due: bool) -> Option<EscalationSpec> {
        let Some(map) = item.as_mapping() else {
            self.error(item, "an escalation is `{after: DURATION, from: creation|claim|due_date, action: ACTION}`", None);
            return None;
        };
        if !self.keys_known(
            map,
            &["name", "after", "from", "unless", "action", "by", "to"],
            "an escalation",
        ) {
            return None;
        }
        let Some(after_node) = map.get_node("after") else {
            self.diags.error(
                node_pos(item),
                "an escalation needs `after`",
                Some("for example `after: PT2H` or `after: 2h`".into()),
            );
            return None;
        };
        let after = self.duration(after_node, "escalations.after")?;
        let from = match map.get_node("from").map(|n| (n, scalar(n))) {
            None => EscalationStart::Creation,
            Some((_, Some("creation"))) => EscalationStart::Creation,
            Some((_, Some("claim"))) => EscalationStart::Claim,
            Some((n, Some("due_date"))) if !has_due => {
                self.error(
                    n,
                    "`from: due_date` needs the task's `due`",
                    Some("set `due: 1 day` on the task, or count from `creation`".into()),
                );
                return None;
            }
            Some((_, Some("due_date"))) => EscalationStart::DueDate,
            Some((n, _)) => {
                self.error(n, "`from` is `creation`, `claim` or `due_date`", None);
                return None;
            }
        };
        let unless = match map.get_node("unless").map(|n| (n, scalar(n))) {
            None => ExpectedState::Ended,
            Some((_, Some("ended"))) => ExpectedState::Ended,
            Some((_, Some("claimed"))) => ExpectedState::Claimed,
            Some((n, _)) => {
                self.error(
                    n,
                    "`unless` is `claimed` or `ended`",
                    Some("the escalation does not happen once the task reached that state".into()),
                );
                return None;
            }
        };
        let Some(action_node) = map.get_node("action") else {
            self.diags.error(
                node_pos(item),
                "an escalation needs `action`",
                Some("`raise_priority`, `notify` or `reassign`".into()),
            );
            return None;
        };
        let to = match map.get_node("to") {
            Some(n) => Some(self.names(n)?),
            None => None,
        };
        let action_name = scalar(action_node).unwrap_or_default();
        let action = match (action_name, to) {
            ("raise_priority", None) => {
                let by = match map.get_node("by") {
                    None => 1,
                    Some(b) => match scalar(b).and_then(|s| s.parse::<i32>().ok()) {
                        Some(by) => by,
                        None => {
                            self.error(b, "`by` must be a whole number", None);
                            return None;
                        }
                    },
                };
                EscalationAction::RaisePriority { by }
            }
            ("raise_priority", Some(_)) => {
                self.error(action_node, "`raise_priority` takes `by`, not `to`", None);
                return None;
            }
            ("notify" | "reassign", None) => {
                self.error(
                    action_node,
                    format!(
                        "`{action_name}` needs `to`: the users or `group:NAME` to {action_name}"
                    ),
                    Some("for example `to: group:managers`".into()),
                );
                return None;
            }
            ("notify", Some(to)) => EscalationAction::Notify { to },
            ("reassign", Some(to)) => EscalationAction::Reassign { to },
            _ => {
                self.error(
                    action_node,
                    format!("unknown escalation action `{action_name}`"),
                    Some("use `raise_priority`, `notify` or `reassign`".into()),
                );
                return None;
            }
        };
        if map.get_node("by").is_some() && !matches!(action, EscalationAction::RaisePriority { .. })
        {
            self.error(
                map.get_node("by")?,
                "`by` is only for `raise_priority`",
                None,
            );
            return None;
        }
        let name = match map.get_node("name").and_then(scalar) {
            Some(name) => name.to_owned(),
            None => format!(
                "escalation {} ({action_name} after {})",
                n + 1,
                scalar(after_node).unwrap_or_default()
            ),
        };
        Some(EscalationSpec {
            name,
            after,
            from,
            unless,
            action,
        })
    }

    /// Fixed names (no expressions): a user, `group:NAME`, or a list of those.
    fn names(&mut self, node: &Node) -> Option<PotentialOwners> {
        let mut owners = PotentialOwners::default();
        for assignee in self.assignees(node, "to")? {
            match assignee {
                Assignee::Named(named) => {
                    owners.users.extend(named.users);
                    owners.groups.extend(named.groups);
                }
                Assignee::Expr(_) => {
                    self.error(
                        node,
                        "an escalation's `to` names users and groups, not expressions",
                        None,
                    );
                    return None;
                }
            }
        }
        Some(owners)
    }
}
