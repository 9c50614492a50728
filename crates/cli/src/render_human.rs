//! Human-readable output of human tasks: their states, a user task's human tasks as `baton
//! task show` prints them, and the history line of each human-task change.

use std::fmt::Write;

use baton_api_model::{
    Data, HumanTask, HumanTaskChange, HumanTaskRole, HumanTaskState, HumanTaskStatus, People,
    UserTask,
};

/// Users, then groups as `group NAME`, comma-separated.
pub fn people(people: &People) -> String {
    let names: Vec<String> = people
        .users
        .iter()
        .cloned()
        .chain(people.groups.iter().map(|g| format!("group {g}")))
        .collect();
    names.join(", ")
}

/// A status with whoever it names: `claimed by john`, `suspended by root (was claimed by john)`.
pub fn status_text(state: &HumanTaskState) -> String {
    match &state.suspended {
        Some(s) => format!(
            "suspended by {} (was {})",
            s.by,
            base_text(s.resumes_to, state)
        ),
        None => base_text(state.status, state),
    }
}

fn base_text(status: HumanTaskStatus, state: &HumanTaskState) -> String {
    let by = state
        .ended
        .as_ref()
        .and_then(|e| e.by.as_deref())
        .unwrap_or_default();
    match status {
        HumanTaskStatus::Claimed => format!(
            "claimed by {}",
            state.claimed_by.as_deref().unwrap_or_default()
        ),
        HumanTaskStatus::Forwarded => {
            format!("forwarded to #{}", state.forwarded_to.unwrap_or_default())
        }
        HumanTaskStatus::EndedOk => format!("ended_ok by {by}"),
        HumanTaskStatus::EndedNotOk => format!(
            "ended_not_ok by {by}: {}",
            state
                .ended
                .as_ref()
                .and_then(|e| e.reason.as_deref())
                .unwrap_or_default()
        ),
        HumanTaskStatus::Terminated => format!("terminated by {by}"),
        HumanTaskStatus::Deleted => format!("deleted by {by}"),
        other => other.to_string(),
    }
}

fn role_text(role: HumanTaskRole, of: Option<u32>) -> String {
    match role {
        HumanTaskRole::Original => "original".into(),
        HumanTaskRole::FollowOn => format!("follow-on of #{}", of.unwrap_or_default()),
        HumanTaskRole::Subtask => format!("subtask of #{}", of.unwrap_or_default()),
    }
}

fn object(map: &Data) -> String {
    serde_json::Value::Object(map.clone()).to_string()
}

fn render_task(out: &mut String, t: &HumanTask) {
    let _ = writeln!(out, "#{}  {}  ({})", t.id, t.title, role_text(t.role, t.of));
    let _ = writeln!(out, "    status      {}", status_text(&t.state));
    let _ = writeln!(out, "    owners      {}", people(&t.potential_owners));
    if !t.administrators.is_empty() {
        let _ = writeln!(out, "    admins      {}", people(&t.administrators));
    }
    let _ = writeln!(out, "    priority    {}", t.priority);
    if let Some(due) = t.due {
        let _ = writeln!(out, "    due         {}", due.to_rfc3339());
    }
    if let Some(originator) = &t.originator {
        let _ = writeln!(out, "    originator  {originator}");
    }
    if !t.description.is_empty() {
        let _ = writeln!(out, "    description {}", t.description);
    }
    if !t.form.is_empty() {
        let fields: Vec<String> = t
            .form
            .iter()
            .map(|f| format!("{}: {}{}", f.name, f.ty, if f.required { "" } else { "?" }))
            .collect();
        let _ = writeln!(out, "    form        {}", fields.join(", "));
    }
    if !t.input.is_empty() {
        let _ = writeln!(out, "    input       {}", object(&t.input));
    }
    if let Some(output) = &t.output {
        let _ = writeln!(out, "    output      {}", object(output));
    }
    for note in &t.notes {
        let _ = writeln!(
            out,
            "    note        {} ({}): {}",
            note.by,
            note.at.format("%Y-%m-%d %H:%M"),
            note.text
        );
    }
    for e in &t.escalations {
        let _ = writeln!(
            out,
            "    escalated   {} at {} (from #{})",
            e.name,
            e.at.format("%Y-%m-%d %H:%M"),
            e.origin
        );
    }
}

/// A user task's human tasks (those the view holds), and how its chain ended unless only one
/// task was asked for.
pub fn user_task(user_task: &UserTask, only_one: bool) -> String {
    let mut out = String::new();
    for t in &user_task.human_tasks {
        render_task(&mut out, t);
    }
    if !only_one {
        if let Some(outcome) = &user_task.outcome {
            let _ = writeln!(
                out,
                "outcome: {} from #{} {}",
                outcome.status,
                outcome.task,
                object(&outcome.output)
            );
        }
    }
    out
}

/// One history line for a change of human task `human_task`, made by `by`.
pub fn human_task_change(human_task: u32, by: &str, change: &HumanTaskChange) -> String {
    match change {
        HumanTaskChange::Created {
            role,
            of,
            title,
            potential_owners,
        } => {
            format!(
                "#{human_task} `{title}` created ({}) for {} by {by}",
                role_text(*role, *of),
                people(potential_owners)
            )
        }
        HumanTaskChange::StatusChanged { to } => {
            let text = status_text(to);
            if text.contains(" by ") || by == "engine" {
                format!("#{human_task} {text}")
            } else {
                format!("#{human_task} {text} (by {by})")
            }
        }
        HumanTaskChange::Escalated { name, origin } if *origin == human_task => {
            format!("#{human_task} escalated: {name}")
        }
        HumanTaskChange::Escalated { name, origin } => {
            format!("#{human_task} escalated with #{origin}: {name}")
        }
        HumanTaskChange::PriorityChanged { to } => format!("#{human_task} priority {to}"),
        HumanTaskChange::Reassigned { to } => format!("#{human_task} reassigned to {}", people(to)),
        HumanTaskChange::SubtaskEnded { subtask, status } => {
            format!("#{human_task} subtask #{subtask} ended {status}")
        }
    }
}
