//! `baton case show`: the instances of a case (a root, its sub-processes and what they
//! handed off), oldest first, as a table or as JSON.

use std::fmt::Write;

use clap::Subcommand;

use baton_api_model::{Case, InstanceSummary};

use crate::args::AS_HELP;
use crate::backend::Backend;
use crate::exit::Result;
use crate::render;

#[derive(Subcommand)]
pub enum CaseCmd {
    /// Every instance of CASE, oldest first: its process, status, how it is linked to its
    /// parent, and the work status a hand-off recorded (Pega's Work Status).
    Show {
        /// The case id: the id of the instance that started the case (`case` in `baton show`).
        case: String,
        /// Print the case as JSON.
        #[arg(long)]
        json: bool,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
}

pub async fn act(backend: &Backend, action: CaseCmd) -> Result<u8> {
    match action {
        CaseCmd::Show { case, json, by } => {
            let case = backend.case(by.as_deref(), &case).await?;
            if json {
                outln!("{}", render::json(&case));
            } else {
                out!("{}", table(&case));
            }
        }
    }
    Ok(0)
}

/// `case ID`, then one line per instance: INSTANCE, PROCESS, STATUS, LINK/PARENT, WORK STATUS.
pub fn table(case: &Case) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "case {}\n", case.id);
    let processes: Vec<String> = case
        .instances
        .iter()
        .map(|i| format!("{} v{}", i.process, i.version))
        .collect();
    let links: Vec<String> = case.instances.iter().map(link_text).collect();
    let process_width = processes
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max("PROCESS".len());
    let link_width = links
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max("LINK/PARENT".len());
    let _ = writeln!(
        out,
        "{:36}  {:process_width$}  {:9}  {:link_width$}  WORK STATUS",
        "INSTANCE", "PROCESS", "STATUS", "LINK/PARENT"
    );
    for ((instance, process), link) in case.instances.iter().zip(&processes).zip(&links) {
        let work_status = instance.work_status.as_deref().unwrap_or("-");
        let row = format!(
            "{:36}  {process:process_width$}  {:9}  {link:link_width$}  {work_status}",
            instance.id,
            instance.status.to_string()
        );
        let _ = writeln!(out, "{}", row.trim_end());
    }
    out
}

/// `call from PARENT`, or `-` for the instance that started the case.
fn link_text(instance: &InstanceSummary) -> String {
    match (&instance.parent, instance.link) {
        (Some(parent), Some(link)) => format!("{link} from {parent}"),
        (Some(parent), None) => format!("from {parent}"),
        (None, _) => "-".to_owned(),
    }
}
