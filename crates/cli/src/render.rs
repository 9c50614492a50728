//! Human-readable output: task tables, instance lists and history.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use baton_core::{Definition, Event, EventKind, Instance, TaskStatus};
use baton_store::InstanceSummary;

fn duration(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> String {
    match (from, to) {
        (Some(a), Some(b)) => format!("{:.2}s", (b - a).num_milliseconds() as f64 / 1000.0),
        (Some(_), None) => "…".into(),
        _ => String::new(),
    }
}

/// The task table of an instance, its data and (optionally) its history.
pub fn instance(definition: &Definition, instance: &Instance, history: Option<&[Event]>) -> String {
    let mut out = String::new();
    let _ = write!(out, "instance {}  {} v{}  {}", instance.id, instance.definition_id, instance.definition_version, instance.status);
    if let Some(at) = instance.deleted_at {
        let _ = write!(out, "  (deleted {})", at.format("%Y-%m-%d %H:%M:%S"));
    }
    out.push('\n');
    // Ids are at most MAX_ID_LEN long; the clamp keeps a definition stored before that rule
    // from asking `format!` for a width it refuses (at 65,536 it panics).
    let width = definition.tasks.iter().map(|t| t.id.len()).max().unwrap_or(4).clamp(4, baton_core::definition::MAX_ID_LEN);
    let _ = writeln!(out, "\n  {:width$}  {:8}  {:23}  {:>8}  REASON", "TASK", "KIND", "STATUS", "TIME");
    for &i in &definition.order {
        let (task, state) = (&definition.tasks[i], &instance.tasks[i]);
        let mut status = match &state.status {
            TaskStatus::Claimed { by, .. } => format!("claimed by {by}"),
            TaskStatus::Forwarded { to } => format!("forwarded to {to}"),
            TaskStatus::Suspended { by, .. } => format!("suspended by {by}"),
            other => other.name().to_owned(),
        };
        if state.attempts > 1 && !matches!(task.kind, baton_core::definition::TaskKind::User(_)) {
            status.push_str(&format!(" (try {})", state.attempts));
        }
        let reason = state.reason.as_ref().map(ToString::to_string).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:width$}  {:8}  {:23}  {:>8}  {}",
            task.id,
            task.kind.name(),
            status,
            duration(state.started_at, state.ended_at),
            reason
        );
    }
    if !instance.data.is_empty() {
        let _ = writeln!(out, "\ndata:");
        for (k, v) in &instance.data {
            let _ = writeln!(out, "  {k} = {v}");
        }
    }
    if let Some(history) = history {
        let _ = writeln!(out, "\nhistory:");
        for e in history {
            let _ = writeln!(out, "  {:>4}  {}  {:width$}  {}", e.seq, e.at.format("%H:%M:%S%.3f"), e.task.as_deref().unwrap_or("-"), describe(&e.kind));
        }
    }
    out
}

fn describe(kind: &EventKind) -> String {
    match kind {
        EventKind::InstanceStarted { definition, version, data } => format!("started {definition} v{version} with {}", serde_json::Value::Object(data.clone())),
        EventKind::InstanceStatusChanged { to, reason } => match reason {
            Some(r) => format!("instance {to} ({r})"),
            None => format!("instance {to}"),
        },
        EventKind::TaskStatusChanged { to, reason } => match reason {
            Some(r) => format!("{to} ({r})"),
            None => to.to_string(),
        },
        EventKind::DataChanged { values } => format!("data {}", serde_json::Value::Object(values.clone())),
        EventKind::JobDispatched { attempt, command } => format!("job attempt {attempt} dispatched: {}", command.join(" ")),
        EventKind::JobFinished { attempt, exit_code, duration_ms, stdout_tail, stderr_tail } => {
            let mut s = format!("job attempt {attempt} finished: exit {} after {duration_ms} ms", exit_code.map_or("-".into(), |c| c.to_string()));
            for (name, tail) in [("stdout", stdout_tail), ("stderr", stderr_tail)] {
                let last = tail.trim_end().lines().last().unwrap_or("");
                if !last.is_empty() {
                    let _ = write!(s, "; {name}: {last}");
                }
            }
            s
        }
        EventKind::JobRetried { attempt, reason } => format!("job retried as attempt {attempt}: {reason}"),
        EventKind::BranchesTaken { tasks } => format!("branches taken: {}", tasks.join(", ")),
        EventKind::BreakpointChanged { enabled, by } => format!("breakpoint {} by {by}", if *enabled { "set" } else { "cleared" }),
        EventKind::InputProvided { values, by } => format!("input from {by}: {}", serde_json::Value::Object(values.clone())),
        EventKind::Alert { reason } => format!("alert: {reason}"),
        EventKind::IterationsStarted { first, count: 1 } => format!("iteration {first} started"),
        EventKind::IterationsStarted { first, count } => format!("iterations {first} to {} started", first + count - 1),
        EventKind::IterationsEnded { completed, not_completed } => {
            let mut said = format!("{completed} iteration{} completed", if *completed == 1 { "" } else { "s" });
            for end in not_completed {
                said.push_str(&format!(", iteration {} {}", end.index, end.status));
            }
            said
        }
        EventKind::IterationStarted { index } => format!("iteration {index} started"),
        EventKind::IterationEnded { index, status } => format!("iteration {index} {status}"),
        EventKind::PostconditionEvaluated { condition, held, action } => {
            format!("postcondition `{condition}` {}: {action}", if *held { "holds" } else { "does not hold" })
        }
        EventKind::HumanTask { human_task, by, change } => crate::human_tasks::describe(*human_task, by, change),
        EventKind::PeopleNotified { human_task, escalation, to } => format!("{human_task} escalation `{escalation}`: notify {to}"),
        EventKind::InstanceDeleted { by } => format!("instance deleted by {by}"),
    }
}

pub fn instance_list(rows: &[InstanceSummary]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:36}  {:24}  {:9}  STARTED", "INSTANCE", "PROCESS", "STATUS");
    for r in rows {
        let _ = writeln!(
            out,
            "{:36}  {:24}  {:9}  {}",
            r.id,
            format!("{} v{}", r.definition_id, r.definition_version),
            r.status.name(),
            r.created_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_id_longer_than_any_width_format_allows_is_printed_whole_without_a_panic() {
        let mut definition = baton_core::parse_definition("f.yaml", "id: f\ntasks:\n  - id: t\n    kind: end\n").unwrap();
        let long = "t".repeat(70_000);
        definition.tasks[0].id = long.clone();
        let state = baton_core::start(&definition, "i-1".into(), serde_json::Map::new(), chrono::Utc::now()).unwrap().instance;
        let table = instance(&definition, &state, None);
        assert!(table.lines().any(|l| l.starts_with(&format!("  {long}  end "))), "the row names the whole id");
    }
}
