//! `baton definitions` and `baton definition show|versions|graph|source`: what was deployed.

use std::fmt::Write;

use clap::Subcommand;

use crate::backend::Backend;
use crate::exit::Result;
use crate::graph::{self, GraphFormat};
use crate::render;
use baton_api_model::Definition;

#[derive(Subcommand)]
pub enum DefinitionCmd {
    /// A version's tasks (each after its predecessors), its file and when it was deployed.
    Show {
        /// The process id.
        id: String,
        /// The version (default: the latest).
        #[arg(long)]
        version: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every deployed version, oldest first.
    Versions {
        /// The process id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Draw a version's flow: each task and the tasks it leads to, as text, Graphviz DOT or a
    /// Mermaid flowchart.
    Graph {
        /// The process id.
        id: String,
        /// The version (default: the latest).
        #[arg(long)]
        version: Option<u32>,
        /// How to draw it.
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
    },
    /// Print a version's source exactly as it was deployed.
    Source {
        /// The process id.
        id: String,
        /// The version (default: the latest).
        #[arg(long)]
        version: Option<u32>,
    },
}

/// One line per deployed process: id, latest version, task count, when deployed, name.
/// Every deployed process; with `startable: Some(user)`, only those that user may start.
pub async fn list(backend: &Backend, startable: Option<Option<&str>>, json: bool) -> Result<u8> {
    let definitions = match startable {
        Some(by) => backend.startable(by).await?,
        None => backend.definitions().await?,
    };
    if json {
        outln!("{}", render::json(&definitions));
        return Ok(0);
    }
    let width = definitions
        .iter()
        .map(|d| d.id.len())
        .max()
        .unwrap_or(7)
        .clamp(7, baton_core::definition::MAX_ID_LEN);
    let mut out = format!(
        "{:width$}  {:>7}  {:>5}  {:19}  NAME\n",
        "PROCESS", "VERSION", "TASKS", "DEPLOYED"
    );
    for d in &definitions {
        let _ = writeln!(
            out,
            "{:width$}  {:>7}  {:>5}  {}  {}",
            d.id,
            d.version,
            d.tasks.len(),
            d.deployed_at.format("%Y-%m-%d %H:%M:%S"),
            d.name.as_deref().unwrap_or("-")
        );
    }
    out!("{out}");
    Ok(0)
}

pub async fn act(backend: &Backend, action: DefinitionCmd) -> Result<u8> {
    match action {
        DefinitionCmd::Show { id, version, json } => {
            let definition = backend.definition(&id, version).await?;
            if json {
                outln!("{}", render::json(&definition));
            } else {
                out!("{}", show(&definition));
            }
        }
        DefinitionCmd::Versions { id, json } => {
            let versions = backend.versions(&id).await?;
            if json {
                outln!("{}", render::json(&versions));
            } else {
                let mut out = format!("{:>7}  {:19}  FILE\n", "VERSION", "DEPLOYED");
                for v in &versions {
                    let _ = writeln!(
                        out,
                        "{:>7}  {}  {}",
                        v.version,
                        v.deployed_at.format("%Y-%m-%d %H:%M:%S"),
                        v.file
                    );
                }
                out!("{out}");
            }
        }
        DefinitionCmd::Graph {
            id,
            version,
            format,
        } => out!(
            "{}",
            graph::render(&backend.definition_graph(&id, version).await?, format)
        ),
        DefinitionCmd::Source { id, version } => {
            out!("{}", backend.source(&id, version).await?.source)
        }
    }
    Ok(0)
}

fn show(d: &Definition) -> String {
    let mut out = format!(
        "process {} v{}  ({}, deployed {})\n",
        d.id,
        d.version,
        d.file,
        d.deployed_at.format("%Y-%m-%d %H:%M:%S")
    );
    for (label, text) in [("name", &d.name), ("description", &d.description)] {
        if let Some(text) = text {
            let _ = writeln!(out, "{label}: {text}");
        }
    }
    let width = d
        .tasks
        .iter()
        .map(|t| t.id.len())
        .max()
        .unwrap_or(4)
        .clamp(4, baton_core::definition::MAX_ID_LEN);
    let _ = writeln!(out, "\n  {:width$}  {:8}  AFTER", "TASK", "KIND");
    for t in &d.tasks {
        let after = if t.after.is_empty() {
            "-".to_owned()
        } else {
            t.after.join(", ")
        };
        let _ = writeln!(out, "  {:width$}  {:8}  {after}", t.id, t.kind);
    }
    out
}

/// What `baton deploy` and `baton run` say of a deployed file.
pub fn deployed_line(deployed: &baton_api_model::Deployed) -> String {
    if deployed.unchanged {
        format!(
            "{} version {} is unchanged ({}): the same source as deployed, nothing stored",
            deployed.id, deployed.version, deployed.file
        )
    } else {
        format!(
            "deployed {} version {} ({})",
            deployed.id, deployed.version, deployed.file
        )
    }
}
