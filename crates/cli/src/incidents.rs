//! `baton incidents` and `baton incident retry|resolve`: steps that could not be applied.

use std::fmt::Write;

use clap::Subcommand;

use baton_api_model::Incident;

use crate::backend::Backend;
use crate::exit::Result;

#[derive(Subcommand)]
pub enum IncidentCmd {
    /// Apply the incident's step again (after fixing its cause); it is closed once it applies.
    Retry {
        id: i64,
        #[arg(long = "as", value_name = "USER", help = crate::args::AS_HELP)]
        by: Option<String>,
    },
    /// Close the incident without applying its step (its cause was dealt with otherwise).
    Resolve {
        id: i64,
        #[arg(long = "as", value_name = "USER", help = crate::args::AS_HELP)]
        by: Option<String>,
    },
}

/// Lists open incidents, oldest first.
pub async fn list(backend: &Backend, by: Option<&str>, limit: usize) -> Result<u8> {
    out!("{}", table(&backend.open_incidents(by, limit).await?));
    Ok(0)
}

pub async fn act(backend: &Backend, action: IncidentCmd) -> Result<u8> {
    match action {
        IncidentCmd::Retry { id, by } => {
            let state = backend.retry_incident(by.as_deref(), id).await?;
            outln!(
                "incident {id} retried and closed; instance {} is {}",
                state.id,
                state.status
            );
        }
        IncidentCmd::Resolve { id, by } => {
            let incident = backend.resolve_incident(by.as_deref(), id).await?;
            outln!(
                "incident {id} resolved by {} (instance {})",
                incident.resolved_by.as_deref().unwrap_or_default(),
                incident.instance
            );
        }
    }
    Ok(0)
}

/// One line per incident: id, instance, task, kind, attempts, when, and the reason.
pub fn table(incidents: &[Incident]) -> String {
    let mut out = String::new();
    if incidents.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "{:<6} {:<36} {:<20} {:<12} {:>8}  {:<20}  reason",
        "id", "instance", "task", "kind", "attempts", "raised"
    );
    for i in incidents {
        let state = match &i.resolved_at {
            None => String::new(),
            Some(_) => format!(
                " [{} by {}]",
                i.resolution.as_deref().unwrap_or("closed"),
                i.resolved_by.as_deref().unwrap_or("?")
            ),
        };
        let _ = writeln!(
            out,
            "{:<6} {:<36} {:<20} {:<12} {:>8}  {:<20}  {}{state}",
            i.id,
            i.instance,
            i.task.as_deref().unwrap_or("-"),
            i.kind.to_string(),
            i.attempts,
            i.raised_at.format("%Y-%m-%d %H:%M:%S"),
            i.reason
        );
    }
    out
}
