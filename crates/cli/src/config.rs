//! The optional configuration file (`--config FILE` or `BATON_CONFIG`), in TOML:
//!
//! ```toml
//! db = "/var/lib/baton/baton.db"
//! documents_dir = "/var/lib/baton/documents"
//! log_format = "json"
//!
//! [serve]
//! listen = "0.0.0.0:8080"
//! concurrency = 16
//! grace = "30s"
//! pass_env = ["AWS_REGION"]
//!
//! [worker]
//! concurrency = 4
//! ```
//!
//! Precedence, for each setting: a flag, then its environment variable, then the file, then
//! the default. The file fills in only what clap took from a default (or found nowhere), read
//! from `ArgMatches::value_source`, so a flag or variable always wins. An unknown key or a
//! value of the wrong type is refused with the file's line and column, and nothing runs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use serde::Deserialize;

use crate::args::{Cli, Cmd, LogFormat};
use crate::worker::JobArgs;

/// The largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    db: Option<PathBuf>,
    documents_dir: Option<PathBuf>,
    log_format: Option<FileLogFormat>,
    serve: Option<Section>,
    worker: Option<Section>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FileLogFormat {
    Text,
    Json,
}

/// The settings of `serve` or `worker` (`listen` is `serve`'s alone).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    listen: Option<SocketAddr>,
    concurrency: Option<usize>,
    grace: Option<String>,
    pass_env: Option<Vec<String>>,
}

/// Parses the command line (exiting as clap does on `--help` or a bad flag), then lays the
/// configuration file, if one is named, under it. Errs with a message on a bad file.
pub fn parse_args() -> Result<Cli, String> {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(path) = cli.config.clone() {
        let config = load(&path)?;
        apply(&mut cli, &matches, config).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(cli)
}

fn load(path: &Path) -> Result<Config, String> {
    let name = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("the configuration file {name} cannot be read: {e}"))?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(format!(
            "the configuration file {name} is larger than {MAX_CONFIG_BYTES} bytes"
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("the configuration file {name} cannot be read: {e}"))?;
    toml::from_str(&text).map_err(|e| format!("{name}: {}", e.to_string().trim_end()))
}

/// Was `id` left to its default (or not given at all) in `matches`?
fn unset(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        None | Some(ValueSource::DefaultValue)
    )
}

fn apply(cli: &mut Cli, matches: &ArgMatches, config: Config) -> Result<(), String> {
    if let Some(db) = config.db.filter(|_| unset(matches, "db")) {
        cli.db = db;
    }
    if let Some(dir) = config
        .documents_dir
        .filter(|_| unset(matches, "documents_dir"))
    {
        cli.documents_dir = Some(dir);
    }
    if let Some(format) = config.log_format.filter(|_| unset(matches, "log_format")) {
        cli.log_format = match format {
            FileLogFormat::Text => LogFormat::Text,
            FileLogFormat::Json => LogFormat::Json,
        };
    }
    match &mut cli.command {
        Cmd::Serve {
            listen,
            concurrency,
            jobs,
            ..
        } => {
            let (Some(section), Some(sub)) = (config.serve, matches.subcommand_matches("serve"))
            else {
                return Ok(());
            };
            if let Some(address) = section.listen.filter(|_| unset(sub, "listen")) {
                *listen = address;
            }
            apply_jobs(section, sub, concurrency, jobs)
        }
        Cmd::Worker {
            concurrency, jobs, ..
        } => {
            let (Some(section), Some(sub)) = (config.worker, matches.subcommand_matches("worker"))
            else {
                return Ok(());
            };
            if section.listen.is_some() {
                return Err("`listen` is for [serve]; a worker serves nothing".into());
            }
            apply_jobs(section, sub, concurrency, jobs)
        }
        _ => Ok(()),
    }
}

fn apply_jobs(
    section: Section,
    sub: &ArgMatches,
    concurrency: &mut usize,
    jobs: &mut JobArgs,
) -> Result<(), String> {
    if let Some(n) = section.concurrency.filter(|_| unset(sub, "concurrency")) {
        if n == 0 {
            return Err("`concurrency` is at least 1".into());
        }
        *concurrency = n;
    }
    if let Some(grace) = section.grace.filter(|_| unset(sub, "grace")) {
        jobs.grace = parse_grace(&grace)?;
    }
    if let Some(names) = section.pass_env.filter(|_| unset(sub, "pass_env")) {
        jobs.pass_env = names;
    }
    Ok(())
}

fn parse_grace(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| {
        format!(
            "`grace = \"{}\"` is not a duration ({e}); write it like \"10s\" or \"2m\"",
            text.escape_default()
        )
    })
}
