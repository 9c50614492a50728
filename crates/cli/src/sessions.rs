//! `baton session`: a user session on a Baton server (`--server`) and the interactive
//! workflows its user drives (Siebel): log in and out, list the session's cache, start a
//! workflow, go back to one (from the cache or the inbox), submit the view it shows, suspend it.
//!
//! `login` prints the session's id on stdout, for `BATON_SESSION` (or `--session`), which the
//! other commands name the session by. Sessions live in the server: without `--server` each
//! command is refused (exit 2).

use clap::Subcommand;

use baton_api_model as api;

use crate::backend::Backend;
use crate::exit::Result;
use crate::input::parse_data;
use crate::render;

/// The session a command acts in.
#[derive(clap::Args)]
pub struct SessionArg {
    /// The session's id, as `baton session login` printed it.
    #[arg(long, env = "BATON_SESSION", value_name = "ID")]
    session: String,
}

#[derive(Subcommand)]
pub enum SessionCmd {
    /// Log in: open a session of the token's user; prints its id (export it as BATON_SESSION).
    /// It is logged out by `baton session logout`, when idle past the server's timeout, or
    /// when the server stops.
    Login {
        /// Print the session as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Log out: each workflow in the session's cache goes to the inbox (Auto Persist) or is deleted.
    Logout {
        #[command(flatten)]
        session: SessionArg,
        #[arg(long)]
        json: bool,
    },
    /// The workflows in the session's cache, the most recently used first, and the view each shows.
    Workflows {
        #[command(flatten)]
        session: SessionArg,
        #[arg(long)]
        json: bool,
    },
    /// Start an interactive workflow in the session: it runs to its first view (or wait).
    Start {
        /// The process (an interactive one).
        process: String,
        /// The start data: a JSON object, or @path.
        #[arg(long)]
        data: Option<String>,
        #[command(flatten)]
        session: SessionArg,
        #[arg(long)]
        json: bool,
    },
    /// Go back to a workflow: from the session's cache, or from your inbox by its instance id,
    /// at the step where you left off.
    Resume {
        instance: String,
        #[command(flatten)]
        session: SessionArg,
        #[arg(long)]
        json: bool,
    },
    /// Submit the view a workflow of the session shows, with data that fits its form.
    Submit {
        instance: String,
        /// The view's fields: a JSON object, or @path.
        #[arg(long)]
        data: Option<String>,
        /// The view task (when the workflow shows several).
        #[arg(long)]
        task: Option<String>,
        #[command(flatten)]
        session: SessionArg,
        #[arg(long)]
        json: bool,
    },
    /// Suspend a workflow of the session (the Suspend button): it goes to your inbox.
    Suspend {
        instance: String,
        #[command(flatten)]
        session: SessionArg,
        #[arg(long)]
        json: bool,
    },
}

pub async fn act(backend: &Backend, action: SessionCmd) -> Result<u8> {
    match action {
        SessionCmd::Login { json } => {
            let session = backend.login().await?;
            if json {
                outln!("{}", render::json(&session));
            } else {
                outln!("{}", session.id);
                errln!(
                    "logged in as {}; the session is logged out after {} idle",
                    session.user,
                    humantime::format_duration(std::time::Duration::from_millis(
                        session.idle_timeout_ms
                    ))
                );
            }
        }
        SessionCmd::Logout { session, json } => {
            let logout = backend.logout(&session.session).await?;
            if json {
                outln!("{}", render::json(&logout));
            } else {
                for left in &logout.left {
                    outln!("{}", left_line(left));
                }
                errln!("session {} logged out", logout.session);
            }
        }
        SessionCmd::Workflows { session, json } => {
            let workflows = backend.session_workflows(&session.session).await?;
            if json {
                outln!("{}", render::json(&workflows));
            } else if workflows.is_empty() {
                outln!("no workflows in this session");
            } else {
                for w in &workflows {
                    out!("{}", workflow_text(w));
                }
            }
        }
        SessionCmd::Start {
            process,
            data,
            session,
            json,
        } => {
            let step = backend
                .session_start(&session.session, &process, parse_data(data.as_deref())?)
                .await?;
            print_step(&step, json);
        }
        SessionCmd::Resume {
            instance,
            session,
            json,
        } => {
            let step = backend.session_resume(&session.session, &instance).await?;
            print_step(&step, json);
        }
        SessionCmd::Submit {
            instance,
            data,
            task,
            session,
            json,
        } => {
            let step = backend
                .session_submit(
                    &session.session,
                    &instance,
                    task,
                    parse_data(data.as_deref())?,
                )
                .await?;
            print_step(&step, json);
        }
        SessionCmd::Suspend {
            instance,
            session,
            json,
        } => {
            let suspended = backend.session_suspend(&session.session, &instance).await?;
            if json {
                outln!("{}", render::json(&suspended));
            } else {
                outln!(
                    "{} suspended at step {}: it is in your inbox",
                    suspended.instance,
                    suspended.step.as_deref().unwrap_or("-")
                );
            }
        }
    }
    Ok(0)
}

fn print_step(step: &api::SessionStep, json: bool) {
    if json {
        outln!("{}", render::json(step));
        return;
    }
    out!("{}", workflow_text(&step.workflow));
    for left in &step.left {
        errln!("{}", left_line(left));
    }
}

/// What became of a workflow that left the cache, in a line.
fn left_line(left: &api::LeftWorkflow) -> String {
    let to = match left.to {
        api::LeftTo::Inbox => "saved in the inbox",
        api::LeftTo::Deleted => "deleted (no Auto Persist)",
        api::LeftTo::Ended => "had ended",
    };
    format!(
        "{} ({}) left the cache ({}): {to}",
        left.instance, left.process, left.why
    )
}

/// A workflow and the view it shows, as lines.
fn workflow_text(w: &api::SessionWorkflow) -> String {
    let mut text = format!(
        "{}  {}  {}  step {}\n",
        w.instance,
        w.process,
        w.status,
        w.step.as_deref().unwrap_or("-")
    );
    if let Some(view) = &w.view {
        text.push_str(&format!("  view {}: {}\n", view.task, view.title));
        for field in &view.fields {
            let required = if field.required { ", required" } else { "" };
            text.push_str(&format!("    {} ({}{required})\n", field.name, field.ty));
        }
    }
    if let Some(event) = &w.waiting_for {
        text.push_str(&format!("  waiting for event {event}\n"));
    }
    text
}
