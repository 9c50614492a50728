//! `baton tasks` (the inbox) and `baton task show|claim|unclaim|complete|fail|forward|subtask|
//! suspend|resume|terminate|escalate|delete|restart` (human tasks, issue 4).
//!
//! A human task is named by its instance and its `user` task, `TASK` or `TASK#N`: `#0` is the
//! task the process created, follow-ons and subtasks are numbered after it. Without `#N` an
//! operation acts on the task the chain currently waits for (the last follow-on), except
//! `delete` and `restart`, which act on `#0`. Every operation but `show` names the acting user
//! (`--as USER`), who must exist; a refused operation prints why, exits 2 and changes nothing.

use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use baton_core::definition::duration;
use baton_core::user_task::{
    EscalationAction, FollowOnSpec, HumanTask, HumanTaskId, HumanTaskRole, HumanTaskStatus, PotentialOwners, SubtaskSpec, UserTask, UserTaskCommand,
    UserTaskEventKind,
};
use baton_core::Instance;
use baton_store::{IdentityStore, InboxFilter, InboxReader, InboxStatus, Page};

use crate::commands::{open, parse_data, InputError, SqliteEngine};

/// Names one human task: the instance and `TASK` or `TASK#N`.
#[derive(Args)]
pub struct Target {
    /// The instance id.
    instance: String,
    /// The user task's id in the process, optionally with the human task's number: `review` or `review#1`.
    task: String,
    /// The acting user (must exist: `baton user add`).
    #[arg(long = "as", value_name = "USER")]
    user: String,
}

#[derive(Subcommand)]
pub enum HumanTaskCmd {
    /// Show a user task's human tasks: statuses, owners, notes, escalations, input and output.
    Show {
        instance: String,
        /// The user task's id in the process (`TASK` or `TASK#N`).
        task: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Claim a ready task (a potential owner, a member of a candidate group, or an administrator).
    Claim(Target),
    /// Give a claimed task back: it is `ready` again (its owner only).
    Unclaim(Target),
    /// Complete a claimed task with output (checked against its form); the process goes on.
    Complete {
        #[command(flatten)]
        target: Target,
        /// The output: a JSON object, or @path to a file holding one.
        #[arg(long)]
        data: Option<String>,
    },
    /// End a claimed task `ended_not_ok`.
    Fail {
        #[command(flatten)]
        target: Target,
        /// Why (recorded in history and shown by `baton show`).
        #[arg(long = "note", value_name = "TEXT")]
        note: String,
    },
    /// Start a follow-on task for someone else: your task becomes `forwarded`; the follow-on's
    /// output is what the process gets.
    Forward {
        #[command(flatten)]
        target: Target,
        /// Who works the follow-on: users and `group:NAME`, comma-separated or repeated.
        #[arg(long, required = true, value_delimiter = ',')]
        to: Vec<String>,
        /// The follow-on's title (default: the task's own).
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// A note passed along the chain (e.g. what to look at).
        #[arg(long = "note", value_name = "TEXT")]
        note: Option<String>,
        /// Input laid over a copy of the task's input: a JSON object or @file.
        #[arg(long)]
        data: Option<String>,
        /// An escalation of the follow-on's own (repeatable), as JSON, e.g.
        /// `{"name": "slow review", "after": "2h", "action": "raise_priority", "by": 3}`
        /// (`from`: creation|claim|due_date, `unless`: claimed|ended; `notify`/`reassign` take
        /// `"to": {"users": [..], "groups": [..]}`).
        #[arg(long = "escalation", value_name = "JSON")]
        escalations: Vec<String>,
    },
    /// Create a subtask of your claimed task for someone else.
    Subtask {
        #[command(flatten)]
        target: Target,
        /// Who works the subtask: users and `group:NAME`, comma-separated or repeated.
        #[arg(long, required = true, value_delimiter = ',')]
        to: Vec<String>,
        #[arg(long)]
        title: String,
        /// The description; `--note` is an alias.
        #[arg(long, alias = "note")]
        description: Option<String>,
        /// The subtask's input: a JSON object or @file.
        #[arg(long)]
        data: Option<String>,
        /// The subtask expires this long after it is created (e.g. `2 days`, `P2D`).
        #[arg(long)]
        expires_after: Option<String>,
    },
    /// Suspend the task with its whole chain of follow-on tasks (timers pause too).
    Suspend(Target),
    /// Resume a suspended chain from any of its tasks.
    Resume(Target),
    /// Terminate the task's whole chain (an administrator).
    Terminate(Target),
    /// Escalate the task by hand (an administrator): every follow-on after it escalates too.
    Escalate {
        #[command(flatten)]
        target: Target,
        /// `raise-priority`, `notify` or `reassign`.
        #[arg(long, default_value = "raise-priority")]
        action: String,
        /// For `raise-priority`: by how much.
        #[arg(long, default_value_t = 1)]
        by: i32,
        /// For `notify` and `reassign`: users and `group:NAME`.
        #[arg(long, value_delimiter = ',')]
        to: Vec<String>,
        /// The escalation's name, as history shows it.
        #[arg(long, default_value = "by hand")]
        name: String,
    },
    /// Delete a first task with its follow-ons and subtasks (an administrator); deleting a
    /// follow-on on its own is refused.
    Delete(Target),
    /// Start a first task over (an administrator): its follow-ons and subtasks are deleted.
    Restart(Target),
}

/// `baton tasks`: a user's inbox.
#[derive(Args)]
pub struct InboxArgs {
    /// Whose inbox (must exist).
    #[arg(long = "as", value_name = "USER")]
    user: String,
    /// Only `ready` (claimable), `claimed` (yours), `suspended` or `escalated` tasks.
    #[arg(long)]
    status: Option<String>,
    /// Only tasks of this process.
    #[arg(long)]
    process: Option<String>,
    /// Only tasks due before this time: RFC 3339, a date (`2026-03-01`) or `+DURATION` from now (`+2d`).
    #[arg(long)]
    due_before: Option<String>,
    /// Only tasks with at least this priority.
    #[arg(long)]
    min_priority: Option<i32>,
    /// The page (from 1).
    #[arg(long, default_value_t = 1)]
    page: usize,
    #[arg(long, default_value_t = 20)]
    per_page: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn parse_due_before(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if let Some(rest) = text.strip_prefix('+') {
        let d = duration::parse(rest).map_err(|e| InputError(format!("--due-before: {e}")))?;
        return Ok(baton_core::timestamp::after(now, d));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(InputError(format!("--due-before `{text}` is not a time; write an RFC 3339 time, a date like 2026-03-01 or +DURATION")).into())
}

pub async fn inbox(db: &Path, args: InboxArgs) -> Result<u8> {
    let engine = open(db)?;
    let caller = engine.store().caller(&args.user).await?;
    let status = match args.status.as_deref() {
        None => None,
        Some(s) => {
            Some(InboxStatus::parse(s).ok_or_else(|| InputError(format!("unknown inbox status `{s}`; use ready, claimed, suspended or escalated")))?)
        }
    };
    if args.page == 0 || args.per_page == 0 {
        return Err(InputError("--page and --per-page count from 1".into()).into());
    }
    let filter = InboxFilter {
        status,
        process: args.process,
        due_before: args.due_before.as_deref().map(|t| parse_due_before(t, Utc::now())).transpose()?,
        min_priority: args.min_priority,
    };
    let groups: Vec<String> = caller.groups.iter().cloned().collect();
    let page = engine.store().inbox(&caller.user, &groups, &filter, Page { number: args.page, per_page: args.per_page }).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(0);
    }
    if page.rows.is_empty() {
        outln!("no tasks for {}{}", caller.user, if args.page > 1 { format!(" on page {}", args.page) } else { String::new() });
        return Ok(0);
    }
    let width = page.rows.iter().map(|r| r.task.len() + 1 + r.human_task.0.to_string().len()).max().unwrap_or(4).clamp(4, baton_core::definition::MAX_ID_LEN + 11);
    let title_width = page.rows.iter().map(|r| r.title.chars().count()).max().unwrap_or(5).clamp(5, 40);
    let mut out = format!("{:36}  {:width$}  {:title_width$}  {:18}  {:>4}  {:20}  PROCESS\n", "INSTANCE", "TASK", "TITLE", "STATUS", "PRIO", "DUE");
    for r in &page.rows {
        let mut status = r.status.clone();
        if let Some(owner) = &r.owner {
            let _ = write!(status, " ({owner})");
        }
        if r.escalated {
            status.push_str(" !");
        }
        let due = r.due.map(|d| d.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "-".into());
        let title: String = r.title.chars().take(title_width).collect();
        let _ = writeln!(
            out,
            "{:36}  {:width$}  {title:title_width$}  {status:18}  {:>4}  {due:20}  {}",
            r.instance,
            format!("{}#{}", r.task, r.human_task.0),
            r.priority,
            r.process
        );
    }
    if page.more {
        let _ = writeln!(out, "(more: --page {})", args.page + 1);
    }
    out!("{out}");
    Ok(0)
}

/// `TASK` or `TASK#N`.
fn split_task(text: &str) -> Result<(String, Option<HumanTaskId>)> {
    match text.split_once('#') {
        None => Ok((text.to_owned(), None)),
        Some((task, n)) => {
            let n = n.parse::<u32>().map_err(|_| InputError(format!("`{text}`: after `#` comes the human task's number, e.g. `{task}#1`")))?;
            Ok((task.to_owned(), Some(HumanTaskId(n))))
        }
    }
}

async fn user_task_of(engine: &SqliteEngine, instance: &str, task: &str) -> Result<(Instance, Option<std::sync::Arc<UserTask>>)> {
    let state = engine.instance(instance).await?;
    let definition = engine.definition(&state.definition_id, Some(state.definition_version)).await?;
    let i = definition.task_index(task).ok_or_else(|| InputError(format!("there is no task `{task}` in process `{}`", definition.id)))?;
    let kind = definition.tasks[i].kind.name();
    if kind != "user" {
        return Err(InputError(format!("task `{task}` is a {kind} task; only `user` tasks have human tasks")).into());
    }
    let user_task = state.tasks[i].user_task.clone();
    Ok((state, user_task))
}

fn owners(names: &[String]) -> Result<PotentialOwners> {
    let mut owners = PotentialOwners::default();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        owners.add_resolved(&Value::String(name.to_owned())).map_err(|e| InputError(e.to_string()))?;
    }
    if owners.is_empty() {
        return Err(InputError("--to names nobody; give users or group:NAME".into()).into());
    }
    Ok(owners)
}

pub async fn human_task(db: &Path, cmd: HumanTaskCmd) -> Result<u8> {
    let engine = open(db)?;
    if let HumanTaskCmd::Show { instance, task, json } = &cmd {
        let (name, only) = split_task(task)?;
        let (_, user_task) = user_task_of(&engine, instance, &name).await?;
        let user_task = user_task.ok_or_else(|| InputError(format!("user task `{name}` of instance {instance} has not started")))?;
        if *json {
            outln!("{}", serde_json::to_string_pretty(&user_task)?);
        } else {
            out!("{}", render_user_task(&user_task, only));
        }
        return Ok(0);
    }
    let target = match &cmd {
        HumanTaskCmd::Show { .. } => unreachable!("handled above"),
        HumanTaskCmd::Claim(t)
        | HumanTaskCmd::Unclaim(t)
        | HumanTaskCmd::Suspend(t)
        | HumanTaskCmd::Resume(t)
        | HumanTaskCmd::Terminate(t)
        | HumanTaskCmd::Delete(t)
        | HumanTaskCmd::Restart(t) => t,
        HumanTaskCmd::Complete { target, .. }
        | HumanTaskCmd::Fail { target, .. }
        | HumanTaskCmd::Forward { target, .. }
        | HumanTaskCmd::Subtask { target, .. }
        | HumanTaskCmd::Escalate { target, .. } => target,
    };
    let (name, given) = split_task(&target.task)?;
    let (instance, user) = (target.instance.clone(), target.user.clone());
    let (_, user_task) = user_task_of(&engine, &instance, &name).await?;
    let first_task = matches!(cmd, HumanTaskCmd::Delete(_) | HumanTaskCmd::Restart(_));
    // Without `#N`: the task the chain waits for (or `#0` for delete and restart).
    let id = given.unwrap_or_else(|| match (&user_task, first_task) {
        (Some(ut), false) => ut.last_in_chain(HumanTaskId::ORIGINAL),
        _ => HumanTaskId::ORIGINAL,
    });
    let command = match cmd {
        HumanTaskCmd::Show { .. } => unreachable!("handled above"),
        HumanTaskCmd::Claim(_) => UserTaskCommand::Claim { task: id },
        HumanTaskCmd::Unclaim(_) => UserTaskCommand::CancelClaim { task: id },
        HumanTaskCmd::Complete { data, .. } => UserTaskCommand::Complete { task: id, output: parse_data(data.as_deref())? },
        HumanTaskCmd::Fail { note, .. } => UserTaskCommand::Fail { task: id, reason: note },
        HumanTaskCmd::Forward { to, title, description, note, data, escalations, .. } => {
            let escalations = escalations
                .iter()
                .map(|e| serde_json::from_str::<baton_core::user_task::EscalationSpec>(e).map_err(|err| InputError(format!("--escalation {e}: {err}"))))
                .collect::<Result<Vec<_>, _>>()?;
            let current = user_task.as_ref().and_then(|ut| ut.task(id));
            let spec = FollowOnSpec {
                title: title.or_else(|| current.map(|t| t.title.clone())).unwrap_or_else(|| name.clone()),
                description: description.or_else(|| current.map(|t| t.description.clone())).unwrap_or_default(),
                to: owners(&to)?,
                notes: note,
                input: parse_data(data.as_deref())?,
                escalations,
            };
            UserTaskCommand::StartFollowOn { task: id, spec }
        }
        HumanTaskCmd::Subtask { to, title, description, data, expires_after, .. } => {
            let expires_after = expires_after.as_deref().map(duration::parse).transpose().map_err(|e| InputError(format!("--expires-after: {e}")))?;
            let spec = SubtaskSpec {
                title,
                description: description.unwrap_or_default(),
                to: owners(&to)?,
                input: parse_data(data.as_deref())?,
                output_fields: Vec::new(),
                expires_after,
                escalations: Vec::new(),
            };
            UserTaskCommand::CreateSubtask { parent: id, spec }
        }
        HumanTaskCmd::Suspend(_) => UserTaskCommand::Suspend { task: id },
        HumanTaskCmd::Resume(_) => UserTaskCommand::Resume { task: id },
        HumanTaskCmd::Terminate(_) => UserTaskCommand::Terminate { task: id },
        HumanTaskCmd::Escalate { action, by, to, name: escalation, .. } => {
            let action = match action.replace('_', "-").as_str() {
                "raise-priority" => EscalationAction::RaisePriority { by },
                "notify" => EscalationAction::Notify { to: owners(&to)? },
                "reassign" => EscalationAction::Reassign { to: owners(&to)? },
                other => return Err(InputError(format!("unknown escalation action `{other}`; use raise-priority, notify or reassign")).into()),
            };
            UserTaskCommand::Escalate { task: id, name: escalation, action }
        }
        HumanTaskCmd::Delete(_) => UserTaskCommand::Delete { task: id },
        HumanTaskCmd::Restart(_) => UserTaskCommand::Restart { task: id },
    };
    let state = engine.user_task(&instance, &name, &user, command).await?;
    let definition = engine.definition(&state.definition_id, Some(state.definition_version)).await?;
    let i = definition.task_index(&name).context("the task exists")?;
    let shown = state.tasks[i].user_task.as_ref().and_then(|ut| ut.task(id)).map_or_else(|| "-".to_owned(), |t| status_text(&t.status));
    outln!("{name}#{} is {shown}; task {name} is {}; instance {} is {}", id.0, state.tasks[i].status, state.id, state.status);
    Ok(0)
}

fn status_text(status: &HumanTaskStatus) -> String {
    match status {
        HumanTaskStatus::Claimed { by, .. } => format!("claimed by {by}"),
        HumanTaskStatus::Forwarded { to, .. } => format!("forwarded to {to}"),
        HumanTaskStatus::Suspended { was, by, .. } => format!("suspended by {by} (was {})", status_text(was)),
        HumanTaskStatus::EndedOk { by, .. } => format!("ended_ok by {by}"),
        HumanTaskStatus::EndedNotOk { by, reason, .. } => format!("ended_not_ok by {by}: {reason}"),
        HumanTaskStatus::Terminated { by, .. } => format!("terminated by {by}"),
        HumanTaskStatus::Deleted { by, .. } => format!("deleted by {by}"),
        other => other.name().to_owned(),
    }
}

fn role_text(role: HumanTaskRole) -> String {
    match role {
        HumanTaskRole::Original => "original".into(),
        HumanTaskRole::FollowOn { predecessor } => format!("follow-on of {predecessor}"),
        HumanTaskRole::Subtask { parent } => format!("subtask of {parent}"),
    }
}

fn object(map: &Map<String, Value>) -> String {
    Value::Object(map.clone()).to_string()
}

fn render_task(out: &mut String, t: &HumanTask) {
    let _ = writeln!(out, "{}  {}  ({})", t.id, t.title, role_text(t.role));
    let _ = writeln!(out, "    status      {}", status_text(&t.status));
    let _ = writeln!(out, "    owners      {}", t.potential_owners);
    if !t.administrators.is_empty() {
        let _ = writeln!(out, "    admins      {}", t.administrators);
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
    if !t.output_fields.is_empty() {
        let fields: Vec<String> =
            t.output_fields.iter().map(|f| format!("{}: {}{}", f.name, f.ty.name(), if f.required { "" } else { "?" })).collect();
        let _ = writeln!(out, "    form        {}", fields.join(", "));
    }
    if !t.input.is_empty() {
        let _ = writeln!(out, "    input       {}", object(&t.input));
    }
    if let Some(output) = &t.output {
        let _ = writeln!(out, "    output      {}", object(output));
    }
    for note in &t.notes {
        let _ = writeln!(out, "    note        {} ({}): {}", note.by, note.at.format("%Y-%m-%d %H:%M"), note.text);
    }
    for e in &t.escalations {
        let _ = writeln!(out, "    escalated   {} at {} (from {})", e.name, e.at.format("%Y-%m-%d %H:%M"), e.origin);
    }
}

/// A user task's human tasks, or just `only`.
pub fn render_user_task(user_task: &UserTask, only: Option<HumanTaskId>) -> String {
    let mut out = String::new();
    for t in user_task.tasks.iter().filter(|t| only.is_none_or(|o| o == t.id)) {
        render_task(&mut out, t);
    }
    if only.is_none() {
        if let Some(outcome) = &user_task.outcome {
            let _ = writeln!(out, "outcome: {} from {} {}", outcome.status.name(), outcome.task, object(&outcome.output));
        }
    }
    out
}

/// One history line for a human-task event.
pub fn describe(human_task: HumanTaskId, by: &str, change: &UserTaskEventKind) -> String {
    match change {
        UserTaskEventKind::Created { role, title, potential_owners } => {
            format!("{human_task} `{title}` created ({}) for {potential_owners} by {by}", role_text(*role))
        }
        UserTaskEventKind::StatusChanged { to } => {
            let text = status_text(to);
            if text.contains(" by ") || by == "engine" {
                format!("{human_task} {text}")
            } else {
                format!("{human_task} {text} (by {by})")
            }
        }
        UserTaskEventKind::Escalated { name, origin } if *origin == human_task => format!("{human_task} escalated: {name}"),
        UserTaskEventKind::Escalated { name, origin } => format!("{human_task} escalated with {origin}: {name}"),
        UserTaskEventKind::PriorityChanged { to } => format!("{human_task} priority {to}"),
        UserTaskEventKind::Reassigned { to } => format!("{human_task} reassigned to {to}"),
        UserTaskEventKind::SubtaskEnded { subtask, status } => format!("{human_task} subtask {subtask} ended {status}"),
    }
}
