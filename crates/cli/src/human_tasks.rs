//! `baton tasks` (the inbox) and `baton task show|claim|unclaim|complete|fail|forward|subtask|
//! suspend|resume|terminate|escalate|delete|restart` (human tasks).
//!
//! A human task is named by its instance and its `user` task, `TASK` or `TASK#N`: `#0` is the
//! task the process created, follow-ons and subtasks are numbered after it. Without `#N` an
//! operation acts on the task the chain currently waits for (the last follow-on), except
//! `delete` and `restart`, which act on `#0`. Every operation but `show` names the acting user
//! (`--as USER`), who must exist; a refused operation prints why, exits 2 and changes nothing.

use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::args::AS_HELP;
use crate::backend::Backend;
use crate::exit::{CliError, Result};
use crate::input::{name, parse_data};
use crate::render;
use crate::render_human::{status_text, user_task};
use baton_api_model::{InboxQuery, InboxStatus};
use baton_core::definition::duration;
use baton_service::{
    EscalationAction, EscalationSpec, HumanTaskAction, HumanTaskRef, PotentialOwners,
};

/// Names one human task: the instance and `TASK` or `TASK#N`.
#[derive(Args)]
pub struct Target {
    /// The instance id.
    instance: String,
    /// The user task's id in the process, optionally with the human task's number: `review` or `review#1`.
    task: String,
    /// The acting user (must exist: `baton user add`; with --server, the token's user).
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
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
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

impl HumanTaskCmd {
    /// The instance id the command names (see [`crate::args::Cmd::instance_mut`]).
    pub fn instance_mut(&mut self) -> Option<&mut String> {
        Some(match self {
            Self::Show { instance, .. } => instance,
            Self::Claim(t)
            | Self::Unclaim(t)
            | Self::Suspend(t)
            | Self::Resume(t)
            | Self::Terminate(t)
            | Self::Delete(t)
            | Self::Restart(t) => &mut t.instance,
            Self::Complete { target, .. }
            | Self::Fail { target, .. }
            | Self::Forward { target, .. }
            | Self::Subtask { target, .. }
            | Self::Escalate { target, .. } => &mut target.instance,
        })
    }
}

/// `baton tasks`: a user's inbox.
#[derive(Args)]
pub struct InboxArgs {
    /// Whose inbox (must exist; with --server, the token's user).
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
        let d = duration::parse(rest).map_err(|e| CliError::Input(format!("--due-before: {e}")))?;
        return Ok(baton_core::timestamp::after(now, d));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(CliError::Input(format!("--due-before `{text}` is not a time; write an RFC 3339 time, a date like 2026-03-01 or +DURATION")))
}

pub async fn inbox(backend: &Backend, args: InboxArgs) -> Result<u8> {
    let status = match args.status.as_deref() {
        None => None,
        Some(s) => Some(name::<InboxStatus>(s).ok_or_else(|| {
            CliError::Input(format!(
                "unknown inbox status `{s}`; use ready, claimed, suspended or escalated"
            ))
        })?),
    };
    if args.page == 0 || args.per_page == 0 {
        return Err(CliError::Input("--page and --per-page count from 1".into()));
    }
    let query = InboxQuery {
        status,
        process: args.process,
        due_before: args
            .due_before
            .as_deref()
            .map(|t| parse_due_before(t, Utc::now()))
            .transpose()?,
        min_priority: args.min_priority,
        page: args.page,
        per_page: args.per_page,
    };
    let page = backend.inbox(&args.user, &query).await?;
    if args.json {
        outln!("{}", render::json(&page));
        return Ok(0);
    }
    let suspended = suspended_workflows(&page.workflows);
    if page.rows.is_empty() {
        outln!(
            "no tasks for {}{}",
            args.user,
            if args.page > 1 {
                format!(" on page {}", args.page)
            } else {
                String::new()
            }
        );
        out!("{suspended}");
        return Ok(0);
    }
    let width = page
        .rows
        .iter()
        .map(|r| r.task.len() + 1 + r.human_task.to_string().len())
        .max()
        .unwrap_or(4)
        .clamp(4, baton_core::definition::MAX_ID_LEN + 11);
    let title_width = page
        .rows
        .iter()
        .map(|r| r.title.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 40);
    let mut out = format!(
        "{:36}  {:width$}  {:title_width$}  {:18}  {:>4}  {:20}  PROCESS\n",
        "INSTANCE", "TASK", "TITLE", "STATUS", "PRIO", "DUE"
    );
    for r in &page.rows {
        let mut status = r.status.to_string();
        if let Some(owner) = &r.owner {
            let _ = write!(status, " ({owner})");
        }
        if r.escalated {
            status.push_str(" !");
        }
        let due = r
            .due
            .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "-".into());
        let title: String = r.title.chars().take(title_width).collect();
        let _ = writeln!(
            out,
            "{:36}  {:width$}  {title:title_width$}  {status:18}  {:>4}  {due:20}  {}",
            r.instance,
            format!("{}#{}", r.task, r.human_task),
            r.priority,
            r.process
        );
    }
    if page.more {
        let _ = writeln!(out, "(more: --page {})", args.page + 1);
    }
    out!("{out}{suspended}");
    Ok(0)
}

/// The suspended interactive workflows an inbox lists beside its human tasks (nothing when
/// there are none): resumed with `baton session resume INSTANCE`.
fn suspended_workflows(workflows: &[baton_api_model::SuspendedWorkflow]) -> String {
    if workflows.is_empty() {
        return String::new();
    }
    let mut out = format!("\nsuspended workflows (resume with `baton session resume INSTANCE`):\n{:36}  {:24}  {:20}  {:20}  WHY\n", "INSTANCE", "PROCESS", "STEP", "SUSPENDED AT");
    for w in workflows {
        let why = match (w.why, &w.note) {
            (baton_api_model::SuspendedWhy::Explicit, _) => "explicit".to_owned(),
            (baton_api_model::SuspendedWhy::Implicit, Some(note)) => format!("implicit ({note})"),
            (baton_api_model::SuspendedWhy::Implicit, None) => "implicit".to_owned(),
        };
        let _ = writeln!(
            out,
            "{:36}  {:24}  {:20}  {:20}  {why}",
            w.instance,
            w.process,
            w.step.as_deref().unwrap_or("-"),
            w.suspended_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
    out
}

/// `TASK` or `TASK#N`.
fn split_task(text: &str) -> Result<(String, Option<u32>)> {
    match text.split_once('#') {
        None => Ok((text.to_owned(), None)),
        Some((task, n)) => {
            let n = n.parse::<u32>().map_err(|_| {
                CliError::Input(format!(
                    "`{text}`: after `#` comes the human task's number, e.g. `{task}#1`"
                ))
            })?;
            Ok((task.to_owned(), Some(n)))
        }
    }
}

fn owners(names: &[String]) -> Result<PotentialOwners> {
    let mut owners = PotentialOwners::default();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        owners
            .add_resolved(&Value::String(name.to_owned()))
            .map_err(|e| CliError::Input(e.to_string()))?;
    }
    if owners.is_empty() {
        return Err(CliError::Input(
            "--to names nobody; give users or group:NAME".into(),
        ));
    }
    Ok(owners)
}

pub async fn human_task(backend: &Backend, cmd: HumanTaskCmd) -> Result<u8> {
    if let HumanTaskCmd::Show {
        instance,
        task,
        json,
        by,
    } = &cmd
    {
        let (name, only) = split_task(task)?;
        let shown = backend
            .user_task(by.as_deref(), instance, &name, only)
            .await?;
        if *json {
            outln!("{}", render::json(&shown));
        } else {
            out!("{}", user_task(&shown, only.is_some()));
        }
        return Ok(0);
    }
    let (target, action) = action(cmd)?;
    let (name, number) = split_task(&target.task)?;
    let task = HumanTaskRef {
        instance: target.instance,
        task: name.clone(),
        number,
    };
    let done = backend.human_task(&target.user, &task, action).await?;
    let shown = done
        .human_task
        .as_ref()
        .map_or_else(|| "-".to_owned(), |t| status_text(&t.state));
    let status = done
        .instance
        .tasks
        .get(&name)
        .map(|t| t.state.status.to_string())
        .unwrap_or_default();
    outln!(
        "{name}#{} is {shown}; task {name} is {status}; instance {} is {}",
        done.human_task_id,
        done.instance.id,
        done.instance.status
    );
    Ok(0)
}

/// The target and the service's action of a human-task command (all but `show`).
fn action(cmd: HumanTaskCmd) -> Result<(Target, HumanTaskAction)> {
    Ok(match cmd {
        HumanTaskCmd::Show { .. } => unreachable!("shown before"),
        HumanTaskCmd::Claim(t) => (t, HumanTaskAction::Claim),
        HumanTaskCmd::Unclaim(t) => (t, HumanTaskAction::Unclaim),
        HumanTaskCmd::Suspend(t) => (t, HumanTaskAction::Suspend),
        HumanTaskCmd::Resume(t) => (t, HumanTaskAction::Resume),
        HumanTaskCmd::Terminate(t) => (t, HumanTaskAction::Terminate),
        HumanTaskCmd::Delete(t) => (t, HumanTaskAction::Delete),
        HumanTaskCmd::Restart(t) => (t, HumanTaskAction::Restart),
        HumanTaskCmd::Complete { target, data } => (
            target,
            HumanTaskAction::Complete {
                output: parse_data(data.as_deref())?,
            },
        ),
        HumanTaskCmd::Fail { target, note } => (target, HumanTaskAction::Fail { note }),
        HumanTaskCmd::Forward {
            target,
            to,
            title,
            description,
            note,
            data,
            escalations,
        } => {
            let escalations = escalations
                .iter()
                .map(|e| {
                    serde_json::from_str::<EscalationSpec>(e)
                        .map_err(|err| CliError::Input(format!("--escalation {e}: {err}")))
                })
                .collect::<Result<Vec<_>>>()?;
            let action = HumanTaskAction::Forward {
                to: owners(&to)?,
                title,
                description,
                note,
                input: parse_data(data.as_deref())?,
                escalations,
            };
            (target, action)
        }
        HumanTaskCmd::Subtask {
            target,
            to,
            title,
            description,
            data,
            expires_after,
        } => {
            let expires_after = expires_after
                .as_deref()
                .map(duration::parse)
                .transpose()
                .map_err(|e| CliError::Input(format!("--expires-after: {e}")))?;
            let action = HumanTaskAction::Subtask {
                to: owners(&to)?,
                title,
                description: description.unwrap_or_default(),
                input: parse_data(data.as_deref())?,
                expires_after,
            };
            (target, action)
        }
        HumanTaskCmd::Escalate {
            target,
            action,
            by,
            to,
            name: escalation,
        } => {
            let action = match action.replace('_', "-").as_str() {
                "raise-priority" => EscalationAction::RaisePriority { by },
                "notify" => EscalationAction::Notify { to: owners(&to)? },
                "reassign" => EscalationAction::Reassign { to: owners(&to)? },
                other => {
                    return Err(CliError::Input(format!(
                    "unknown escalation action `{other}`; use raise-priority, notify or reassign"
                )))
                }
            };
            (
                target,
                HumanTaskAction::Escalate {
                    name: escalation,
                    action,
                },
            )
        }
    })
}
