//! The database `--db` names, opened as the service every command calls, and the lock that
//! lets one process at a time run its jobs.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use baton_engine::{Engine, EngineOptions, SystemClock};
use baton_service::Service;
use baton_store_sqlite::{Durability, SqliteStore};

use crate::exit::{CliError, Result};

/// The service on the embedded SQLite store.
pub type SqliteService = Service<SqliteStore>;

/// Opens the database at `db` as the command line's service (which may manage people and
/// tokens: whoever runs it holds the file), with the data limits of the environment.
pub fn open(db: &Path) -> Result<SqliteService> {
    Ok(Service::local(engine(db)?))
}

/// Opens the database at `db` as a server's service: there, managing people and others'
/// tokens takes an administrator.
/// The service a server offers, with user sessions of these settings.
pub fn open_for_server(db: &Path, sessions: baton_service::SessionOptions) -> Result<SqliteService> {
    Ok(Service::with_sessions(engine(db)?, sessions))
}

/// Where documents' content is kept when `--documents-dir` (or `BATON_DOCUMENTS_DIR`, or the
/// configuration file's `documents_dir`) says so; else beside the database file. Set once, as
/// the command line is read, before any command opens the database: like the data limits,
/// which come from the environment, it holds for every store the process opens.
static DOCUMENTS_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Keeps documents' content in `dir` (see [`DOCUMENTS_DIR`]).
pub fn keep_documents_in(dir: PathBuf) {
    let _ = DOCUMENTS_DIR.set(dir);
}

fn engine(db: &Path) -> Result<Engine<SqliteStore>> {
    let limits = crate::input::data_limits()?;
    let max_foreach_items = crate::input::foreach_items_limit()?;
    let events = crate::input::event_options()?;
    let opened = match DOCUMENTS_DIR.get() {
        Some(dir) => SqliteStore::open_with_document_dir(db, Durability::Full, dir.clone()),
        None => SqliteStore::open(db, Durability::Full),
    };
    let store = opened.map_err(|source| CliError::Open { path: db.display().to_string(), source })?;
    Ok(Engine::new(store, Arc::new(SystemClock), EngineOptions { limits, max_foreach_items, events, ..EngineOptions::default() }))
}

/// The SQLite file `--db` names: a path, or a URL. `sqlite://PATH` and `sqlite:PATH` are
/// SQLite files; a URL of another store (`postgres://…`) is refused, there being no such store
/// in this build, rather than taken for a file name (which made a folder named `postgres:`).
/// A path is only taken for a URL if it has `://` or starts with a known scheme and `:`.
pub fn database_file(given: &Path) -> Result<PathBuf> {
    let text = given.to_string_lossy();
    let refuse = |why: String| -> Result<PathBuf> { Err(CliError::Input(format!("--db {text}: {why}"))) };
    let (scheme, rest) = match text.split_once(':') {
        Some((scheme, rest)) if rest.starts_with("//") => (scheme.to_ascii_lowercase(), rest.trim_start_matches("//")),
        Some((scheme, rest)) if KNOWN_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) => (scheme.to_ascii_lowercase(), rest),
        _ => return Ok(given.to_path_buf()),
    };
    let name = match scheme.as_str() {
        "sqlite" | "file" => {
            // `sqlite:///var/x.db` is the absolute path /var/x.db (`//` is dropped, the third `/`
            // stays); `sqlite://x.db` and `sqlite:x.db` are relative.
            if rest.is_empty() {
                return refuse("the URL names no file; write sqlite://PATH, e.g. sqlite://baton.db or sqlite:///var/lib/baton.db".into());
            }
            if rest.contains('?') {
                return refuse("options in the URL (`?…`) are not supported; give only the file".into());
            }
            if rest == ":memory:" {
                return refuse("an in-memory database would be gone when the command ends; give a file".into());
            }
            return Ok(PathBuf::from(rest));
        }
        "postgres" | "postgresql" => "PostgreSQL",
        "mysql" | "mariadb" => "MySQL",
        _ => return refuse(format!("`{scheme}:` is not a kind of database Baton knows; give a SQLite file path or sqlite://PATH")),
    };
    refuse(format!("{name} is not supported by this build; its store is SQLite: give a file path or sqlite://PATH"))
}

/// URL schemes recognised without `//` (`sqlite:baton.db`).
const KNOWN_SCHEMES: &[&str] = &["sqlite", "postgres", "postgresql", "mysql", "mariadb"];

/// How long a refused engine lock is tried again before another process is taken to hold it.
const LOCK_GRACE: Duration = Duration::from_secs(2);

/// Only one process drives the jobs of an embedded database at a time; the OS releases the
/// lock when that process dies, however it dies, so the next one can take its jobs over.
///
/// The lock is tried again for [`LOCK_GRACE`]: a job process that a dead engine was forking
/// holds a copy of the lock (an `flock` belongs to the open file, which a fork shares) until
/// it execs its command, a few milliseconds after the engine died.
pub async fn engine_lock(db: &Path) -> Result<Option<File>> {
    let path = PathBuf::from(format!("{}.lock", db.display()));
    let file = File::options().create(true).truncate(false).write(true).open(&path).map_err(CliError::io(format!("opening {}", path.display())))?;
    let deadline = std::time::Instant::now() + LOCK_GRACE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(CliError::io(format!("locking {}", path.display()))(e)),
        }
    }
}
