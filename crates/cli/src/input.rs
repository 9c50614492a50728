//! What the user gives on the command line besides ids: `--data` (a JSON object, or `@FILE`),
//! definition files, and names of statuses, each read within Baton's limits.

use std::fs::File;
use std::path::Path;

use serde_json::{Map, Value};

use baton_core::{DataLimitError, DataLimits};

use crate::exit::{CliError, Result};

/// The data limits: `BATON_MAX_DATA_DEPTH` and `BATON_MAX_DATA_BYTES`, else the defaults.
pub fn data_limits() -> Result<DataLimits> {
    let depth = env_number("BATON_MAX_DATA_DEPTH", DataLimits::DEFAULT_MAX_DEPTH)?;
    let bytes = env_number("BATON_MAX_DATA_BYTES", DataLimits::DEFAULT_MAX_BYTES)?;
    DataLimits::new(depth, bytes).map_err(CliError::Input)
}

/// The most items a ForEach task iterates over: `BATON_MAX_FOREACH_ITEMS`, else the default.
pub fn foreach_items_limit() -> Result<usize> {
    let limit = env_number(
        "BATON_MAX_FOREACH_ITEMS",
        baton_core::limits::DEFAULT_MAX_FOREACH_ITEMS,
    )?;
    baton_core::limits::foreach_items_limit(limit).map_err(CliError::Input)
}

/// The settings of published events: `BATON_EVENT_TTL` (the default time to live),
/// `BATON_EVENT_RETENTION` (how long an id is remembered at least) and
/// `BATON_MAX_BUFFERED_EVENTS`, else the defaults.
pub fn event_options() -> Result<baton_engine::correlation::EventOptions> {
    use baton_engine::correlation::{EventOptions, MAX_TTL};
    let defaults = EventOptions::default();
    let default_ttl = env_duration("BATON_EVENT_TTL", defaults.default_ttl)?;
    if default_ttl > MAX_TTL {
        return Err(CliError::Input(format!(
            "BATON_EVENT_TTL is longer than the most an event may be buffered, {}",
            humantime::format_duration(MAX_TTL)
        )));
    }
    let retention = env_duration("BATON_EVENT_RETENTION", defaults.retention)?;
    if retention > baton_core::definition::MAX_DURATION {
        return Err(CliError::Input(
            "BATON_EVENT_RETENTION is longer than 100 years".into(),
        ));
    }
    let max_buffered = env_number("BATON_MAX_BUFFERED_EVENTS", defaults.max_buffered)?;
    if !(1..=10_000_000).contains(&max_buffered) {
        return Err(CliError::Input(
            "BATON_MAX_BUFFERED_EVENTS must be from 1 to 10,000,000".into(),
        ));
    }
    Ok(EventOptions {
        default_ttl,
        retention,
        max_buffered,
    })
}

/// A duration (`10m`, `24h`) from the environment variable `name`, else `default`.
fn env_duration(name: &str, default: std::time::Duration) -> Result<std::time::Duration> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(default),
        Ok(text) => humantime::parse_duration(text.trim()).map_err(|e| {
            CliError::Input(format!(
                "{name}=`{text}` is not a duration ({e}); write it like `10m` or `24h`"
            ))
        }),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(CliError::Input(format!("{name} is not a duration")))
        }
    }
}

/// A whole number from the environment variable `name`, else `default`.
fn env_number(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(default),
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| CliError::Input(format!("{name}=`{text}` is not a whole number"))),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(CliError::Input(format!("{name} is not a whole number")))
        }
    }
}

/// Reads at most `limit + 1` bytes of a file: enough to tell that it is over the limit
/// without reading all of something endless (`/dev/zero`).
pub fn read_bounded(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    File::open(path)?
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `--data`: a JSON object, or `@path` to a file holding one, within the data limits.
pub fn parse_data(data: Option<&str>) -> Result<Map<String, Value>> {
    let Some(data) = data else {
        return Ok(Map::new());
    };
    let limits = data_limits()?;
    let text = match data.strip_prefix('@') {
        Some(path) => {
            let bytes = read_bounded(Path::new(path), limits.max_bytes)
                .map_err(CliError::io(format!("reading data file {path}")))?;
            if bytes.len() > limits.max_bytes {
                return Err(CliError::Input(format!(
                    "--data @{path} {}",
                    DataLimitError::TooLarge {
                        limit: limits.max_bytes
                    }
                )));
            }
            String::from_utf8(bytes)
                .map_err(|_| CliError::Input(format!("--data @{path} is not UTF-8 text")))?
        }
        None => data.to_owned(),
    };
    limits
        .parse_object(&text)
        .map_err(|e| CliError::Input(format!("--data {e}")))
}

/// A definition or calendar file as the service takes it: its name and its bytes, read only
/// up to the size limit (the service refuses a larger one, or one that is not UTF-8, with the
/// position of the problem).
pub fn source_file(file: &Path) -> Result<baton_service::SourceFile> {
    let bytes = read_bounded(file, baton_core::definition::document::MAX_SOURCE_BYTES)
        .map_err(CliError::io(format!("reading {}", file.display())))?;
    Ok(baton_service::SourceFile {
        name: file.display().to_string(),
        bytes,
    })
}

/// A status (or other enum value) given by its name, e.g. `--status ready`; `None` if it names none.
pub fn name<T: std::str::FromStr>(text: &str) -> Option<T> {
    text.parse().ok()
}
