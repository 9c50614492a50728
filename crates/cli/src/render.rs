//! Human-readable output of instances: the task table, the hierarchy, the data, the history,
//! and instance listings, from the service's views.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use baton_api_model::{
    Event, HistoryEvent, Instance, InstanceStatus, InstanceSummary, LinkKind, TaskStatus,
};

use crate::render_human::{human_task_change, people};

fn duration(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> String {
    match (from, to) {
        (Some(a), Some(b)) => format!("{:.2}s", (b - a).num_milliseconds() as f64 / 1000.0),
        (Some(_), None) => "…".into(),
        _ => String::new(),
    }
}

/// The task table of an instance, where it stands in its hierarchy (with its `children`), its
/// data and (optionally) its history.
pub fn instance(
    instance: &Instance,
    children: &[InstanceSummary],
    history: Option<&[HistoryEvent]>,
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "instance {}  {} v{}  {}",
        instance.id, instance.process, instance.version, instance.status
    );
    if let Some(at) = instance.deleted_at {
        let _ = write!(out, "  (deleted {})", at.format("%Y-%m-%d %H:%M:%S"));
    }
    out.push('\n');
    let width = task_width(instance);
    let _ = writeln!(
        out,
        "\n  {:width$}  {:8}  {:23}  {:>8}  REASON",
        "TASK", "KIND", "STATUS", "TIME"
    );
    for (id, task) in &instance.tasks {
        let state = &task.state;
        let mut status = match state.status {
            TaskStatus::Claimed => format!(
                "claimed by {}",
                state.claimed_by.as_deref().unwrap_or_default()
            ),
            TaskStatus::Forwarded => {
                format!("forwarded to #{}", state.forwarded_to.unwrap_or_default())
            }
            TaskStatus::Suspended => format!(
                "suspended by {}",
                state.suspended_by.as_deref().unwrap_or_default()
            ),
            other => other.to_string(),
        };
        if task.attempts > 1 && task.kind != "user" {
            status.push_str(&format!(" (try {})", task.attempts));
        }
        let reason = task
            .reason
            .as_ref()
            .map(|r| r.message.as_str())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {id:width$}  {:8}  {status:23}  {:>8}  {reason}",
            task.kind,
            duration(task.started_at, task.ended_at)
        );
    }
    out.push_str(&hierarchy(instance, children));
    if !instance.data.is_empty() {
        let _ = writeln!(out, "\ndata:");
        for (k, v) in &instance.data {
            let _ = writeln!(out, "  {k} = {v}");
        }
    }
    if let Some(history) = history {
        let _ = writeln!(out, "\nhistory:");
        for e in history {
            let _ = writeln!(out, "{}", history_line(e, width));
        }
    }
    out
}

/// The width of the task column of `instance`'s tables.
pub fn task_width(instance: &Instance) -> usize {
    // Ids are at most MAX_ID_LEN long; the clamp keeps a definition stored before that rule
    // from asking `format!` for a width it refuses (at 65,536 it panics).
    instance
        .tasks
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(4)
        .clamp(4, baton_core::definition::MAX_ID_LEN)
}

/// One history event as `baton show` lists it, the task column `width` wide.
pub fn history_line(e: &HistoryEvent, width: usize) -> String {
    format!(
        "  {:>4}  {}  {:width$}  {}",
        e.seq,
        e.at.format("%H:%M:%S%.3f"),
        e.task.as_deref().unwrap_or("-"),
        describe(&e.event)
    )
}

fn describe(event: &Event) -> String {
    let object = |map: &baton_api_model::Data| serde_json::Value::Object(map.clone());
    match event {
        Event::InstanceStarted { process, version, data } => format!("started {process} v{version} with {}", object(data)),
        Event::InstanceStatusChanged { to, reason } => match reason {
            Some(r) => format!("instance {to} ({})", r.message),
            None => format!("instance {to}"),
        },
        Event::TaskStatusChanged { to, reason } => match reason {
            Some(r) => format!("{} ({})", to.status, r.message),
            None => to.status.to_string(),
        },
        Event::DataChanged { values } => format!("data {}", object(values)),
        Event::JobDispatched { attempt, command, topic: None } => format!("job attempt {attempt} dispatched: {}", command.join(" ")),
        Event::JobDispatched { attempt, topic: Some(topic), .. } => format!("job attempt {attempt} offered to external workers on topic {topic}"),
        Event::JobReported { attempt, worker, report, message, duration_ms } => match message {
            Some(message) => format!("job attempt {attempt} {report} by worker {worker} after {duration_ms} ms: {message}"),
            None => format!("job attempt {attempt} {report} by worker {worker} after {duration_ms} ms"),
        },
        Event::JobFinished { attempt, exit_code, duration_ms, stdout_tail, stderr_tail } => {
            let mut s = format!("job attempt {attempt} finished: exit {} after {duration_ms} ms", exit_code.map_or("-".into(), |c| c.to_string()));
            for (name, tail) in [("stdout", stdout_tail), ("stderr", stderr_tail)] {
                let last = tail.trim_end().lines().last().unwrap_or("");
                if !last.is_empty() {
                    let _ = write!(s, "; {name}: {last}");
                }
            }
            s
        }
        Event::JobRetried { attempt, reason } => format!("job retried as attempt {attempt}: {}", reason.message),
        Event::BranchesTaken { tasks } => format!("branches taken: {}", tasks.join(", ")),
        Event::WentBack { to, tasks, by } => match by {
            Some(by) => format!("sent back to {to} by {by}; running again: {}", tasks.join(", ")),
            None => format!("looped back to {to}; running again: {}", tasks.join(", ")),
        },
        Event::BreakpointChanged { enabled, by } => format!("breakpoint {} by {by}", if *enabled { "set" } else { "cleared" }),
        Event::InputProvided { values, by } => format!("input from {by}: {}", object(values)),
        Event::Alert { reason } => format!("alert: {}", reason.message),
        Event::IterationsStarted { first, count: 1 } => format!("iteration {first} started"),
        Event::IterationsStarted { first, count } => format!("iterations {first} to {} started", first + count - 1),
        Event::IterationsEnded { completed, not_completed } => {
            let mut said = format!("{completed} iteration{} completed", if *completed == 1 { "" } else { "s" });
            for end in not_completed {
                said.push_str(&format!(", iteration {} {}", end.index, end.status));
            }
            said
        }
        Event::IterationStarted { index } => format!("iteration {index} started"),
        Event::IterationEnded { index, status } => format!("iteration {index} {status}"),
        Event::PostconditionEvaluated { condition, held, action } => {
            format!("postcondition `{condition}` {}: {action}", if *held { "holds" } else { "does not hold" })
        }
        Event::HumanTask { human_task, by, change } => human_task_change(*human_task, by, change),
        Event::PeopleNotified { human_task, escalation, to } => format!("#{human_task} escalation `{escalation}`: notify {}", people(to)),
        Event::InstanceDeleted { by } => format!("instance deleted by {by}"),
        Event::ChildStarted { child, process, version, link, by: None } => format!("{link} sub-process {child} started ({process} v{version})"),
        Event::ChildStarted { child, process, version, link, by: Some(by) } => format!("{link} sub-process {child} started ({process} v{version}) by {by}"),
        Event::ChildRecovered { child } => format!("recovering sub-process {child}"),
        Event::WorkStatusChanged { to } => format!("work status {to}"),
        Event::Recovered { by, tasks } => format!("recovered by {by}: {} run again", tasks.join(", ")),
    }
}

/// A view as `--json` prints it.
pub fn json<T: serde::Serialize>(view: &T) -> String {
    serde_json::to_string_pretty(view).expect("views serialize")
}

/// Where an instance stands in its hierarchy: its parent (with the task that started it and
/// how it is linked), root, case, Pega's work status and referenced instances, and its
/// children with their statuses (a ForEach task's iterations counted by status). Nothing for
/// an instance on its own that started nothing and handed nothing off.
pub fn hierarchy(instance: &Instance, children: &[InstanceSummary]) -> String {
    let mut out = String::new();
    let alone = instance.parent.is_none()
        && children.is_empty()
        && instance.work_status.is_none()
        && instance.referenced_instances.is_empty()
        && instance.replaced_by.is_none();
    if alone {
        return out;
    }
    let _ = writeln!(out, "\nhierarchy:");
    match &instance.parent {
        Some(parent) if parent.link == LinkKind::Peer => {
            let _ = writeln!(
                out,
                "  replaces     {} (Stardust's abort-and-start)",
                parent.instance
            );
        }
        Some(parent) => {
            // A spawned sub-process was started by a user, not by a task.
            let task = (!parent.task.is_empty())
                .then(|| format!("task {}, ", parent.task))
                .unwrap_or_default();
            let index = parent.index.map(|i| format!(" #{i}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  parent       {} ({task}{}{index})",
                parent.instance, parent.link
            );
        }
        None => {}
    }
    if let Some(peer) = &instance.replaced_by {
        let _ = writeln!(out, "  replaced by  {peer}");
    }
    if let Some(root) = &instance.root {
        let _ = writeln!(out, "  root         {root}");
    }
    let _ = writeln!(out, "  case         {}", instance.case);
    if let Some(work_status) = &instance.work_status {
        let _ = writeln!(out, "  work status  {work_status}");
    }
    if !instance.referenced_instances.is_empty() {
        let _ = writeln!(
            out,
            "  referenced   {}",
            instance.referenced_instances.join(", ")
        );
    }
    let (iterations, others): (Vec<&InstanceSummary>, Vec<&InstanceSummary>) = children
        .iter()
        .partition(|c| c.link == Some(LinkKind::Iteration));
    if !others.is_empty() {
        let _ = writeln!(out, "  children:");
        let width = others
            .iter()
            .map(|c| process_text(c).len())
            .max()
            .unwrap_or(0);
        for child in others {
            let link = child.link.map(|l| l.to_string()).unwrap_or_default();
            let task = instance
                .tasks
                .iter()
                .find(|(_, t)| t.child.as_deref() == Some(child.id.as_str()))
                .map(|(id, _)| format!(" (task {id})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {}  {:width$}  {:9}  {link}{task}{}",
                child.id,
                process_text(child),
                child.status.to_string(),
                work_status_text(child)
            );
        }
    }
    // Iterations by their ForEach task's body (`PROCESS/TASK`), in the order first seen.
    let mut bodies: Vec<&str> = Vec::new();
    for child in &iterations {
        if !bodies.contains(&child.process.as_str()) {
            bodies.push(&child.process);
        }
    }
    for body in bodies {
        let of_body: Vec<&InstanceSummary> = iterations
            .iter()
            .copied()
            .filter(|c| c.process == body)
            .collect();
        let _ = writeln!(out, "  iterations   {body}: {}", status_counts(&of_body));
    }
    out
}

/// `PROCESS vVERSION`.
fn process_text(row: &InstanceSummary) -> String {
    format!("{} v{}", row.process, row.version)
}

/// `, work status LABEL` for a child with one.
fn work_status_text(row: &InstanceSummary) -> String {
    row.work_status
        .as_ref()
        .map(|w| format!(", work status {w}"))
        .unwrap_or_default()
}

/// `3 completed, 1 failed`: how many of `rows` are in each status, in the order first seen.
fn status_counts(rows: &[&InstanceSummary]) -> String {
    let mut counts: Vec<(InstanceStatus, usize)> = Vec::new();
    for row in rows {
        match counts.iter_mut().find(|(status, _)| *status == row.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((row.status, 1)),
        }
    }
    counts
        .iter()
        .map(|(status, n)| format!("{n} {status}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Instances one a line; a work status column (Pega's Work Status) only when some row has one.
pub fn instance_list(rows: &[InstanceSummary]) -> String {
    let mut out = String::new();
    if rows.iter().any(|r| r.work_status.is_some()) {
        let _ = writeln!(
            out,
            "{:36}  {:24}  {:9}  {:19}  WORK STATUS",
            "INSTANCE", "PROCESS", "STATUS", "STARTED"
        );
    } else {
        let _ = writeln!(
            out,
            "{:36}  {:24}  {:9}  STARTED",
            "INSTANCE", "PROCESS", "STATUS"
        );
    }
    for r in rows {
        let _ = write!(
            out,
            "{:36}  {:24}  {:9}  {}",
            r.id,
            process_text(r),
            r.status.to_string(),
            r.created_at.format("%Y-%m-%d %H:%M:%S")
        );
        let _ = match &r.work_status {
            Some(work_status) => writeln!(out, "  {work_status}"),
            None => writeln!(out),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_id_longer_than_any_width_format_allows_is_printed_whole_without_a_panic() {
        let mut definition =
            baton_core::parse_definition("f.yaml", "id: f\ntasks:\n  - id: t\n    kind: end\n")
                .unwrap();
        let long = "t".repeat(70_000);
        definition.tasks[0].id = long.clone();
        let state = baton_core::start(
            &definition,
            "i-1".into(),
            serde_json::Map::new(),
            chrono::Utc::now(),
        )
        .unwrap()
        .instance;
        let table = instance(
            &baton_service::view::instance(&definition, &state),
            &[],
            None,
        );
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(&format!("  {long}  end "))),
            "the row names the whole id"
        );
    }

    fn row(id: &str, process: &str, status: InstanceStatus, link: LinkKind) -> InstanceSummary {
        InstanceSummary {
            id: id.into(),
            process: process.into(),
            version: 1,
            status,
            created_at: chrono::Utc::now(),
            ended_at: None,
            parent: Some("i-1".into()),
            link: Some(link),
            case: "i-1".into(),
            work_status: None,
            department: None,
        }
    }

    #[test]
    fn a_foreach_parents_iterations_are_counted_by_status_per_task_and_its_other_children_listed() {
        let definition =
            baton_core::parse_definition("f.yaml", "id: f\ntasks:\n  - id: t\n    kind: end\n")
                .unwrap();
        let state = baton_core::start(
            &definition,
            "i-1".into(),
            serde_json::Map::new(),
            chrono::Utc::now(),
        )
        .unwrap()
        .instance;
        let view = baton_service::view::instance(&definition, &state);
        let children = [
            row(
                "c-1",
                "f/each",
                InstanceStatus::Completed,
                LinkKind::Iteration,
            ),
            row(
                "c-2",
                "f/other",
                InstanceStatus::Failed,
                LinkKind::Iteration,
            ),
            row("c-3", "f/each", InstanceStatus::Failed, LinkKind::Iteration),
            row(
                "c-4",
                "f/each",
                InstanceStatus::Completed,
                LinkKind::Iteration,
            ),
            row("c-5", "g", InstanceStatus::Waiting, LinkKind::Call),
        ];
        let shown = hierarchy(&view, &children);
        let lines: Vec<&str> = shown.lines().map(str::trim).collect();
        assert_eq!(
            lines,
            [
                "",
                "hierarchy:",
                "case         i-1",
                "children:",
                "c-5  g v1  waiting    call",
                "iterations   f/each: 2 completed, 1 failed",
                "iterations   f/other: 1 failed"
            ]
        );
        assert_eq!(
            hierarchy(&view, &[]),
            "",
            "nothing for an instance on its own"
        );
    }

    #[test]
    fn a_spawned_instance_names_no_task_and_a_peer_names_the_instance_it_replaces() {
        let definition =
            baton_core::parse_definition("f.yaml", "id: f\ntasks:\n  - id: t\n    kind: end\n")
                .unwrap();
        let state = baton_core::start(
            &definition,
            "i-2".into(),
            serde_json::Map::new(),
            chrono::Utc::now(),
        )
        .unwrap()
        .instance;
        let mut view = baton_service::view::instance(&definition, &state);
        view.parent = Some(baton_api_model::ParentLink {
            instance: "i-1".into(),
            task: String::new(),
            link: LinkKind::Spawned,
            index: None,
        });
        (view.root, view.case) = (Some("i-1".into()), "i-1".into());
        let lines = |view: &Instance| {
            hierarchy(view, &[])
                .lines()
                .map(str::trim)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines(&view),
            [
                "",
                "hierarchy:",
                "parent       i-1 (spawned)",
                "root         i-1",
                "case         i-1"
            ]
        );
        view.parent = Some(baton_api_model::ParentLink {
            instance: "i-1".into(),
            task: String::new(),
            link: LinkKind::Peer,
            index: None,
        });
        view.root = None;
        assert_eq!(
            lines(&view),
            [
                "",
                "hierarchy:",
                "replaces     i-1 (Stardust's abort-and-start)",
                "case         i-1"
            ]
        );
        view.parent = None;
        view.replaced_by = Some("i-3".into());
        assert_eq!(
            lines(&view),
            ["", "hierarchy:", "replaced by  i-3", "case         i-1"]
        );
    }
}
