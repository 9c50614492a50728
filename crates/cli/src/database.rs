//! The database `--db` names (a SQLite file, or a PostgreSQL database several nodes share),
//! opened as the service every command calls, and the lock that lets one process at a time
//! run the jobs of a SQLite file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use baton_engine::{Engine, EngineOptions, SystemClock};
use baton_service::Service;
use baton_store_any::AnyStore;
use baton_store_postgres::{PgOptions, PgStore};
use baton_store_sqlite::{Durability, SqliteStore};

use crate::exit::{CliError, Result};

/// The service on the store `--db` names.
pub type AnyService = Service<AnyStore>;

/// What `--db` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL database, by its URL.
    Postgres(String),
}

impl Database {
    /// The database as messages name it: a PostgreSQL URL without its password.
    pub fn display(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Postgres(url) => without_password(url),
        }
    }
}

/// `url` with the password of its user, if any, written `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => url.to_owned(),
    }
}

/// Opens the database as the command line's service (which may manage people and tokens:
/// whoever runs it holds the database), with the data limits of the environment.
pub async fn open(db: &Database) -> Result<AnyService> {
    Ok(Service::local(engine(db, None).await?))
}

/// The service a server offers, with user sessions of these settings: there, managing people
/// and others' tokens takes an administrator. `node` names the server among the nodes that
/// share a PostgreSQL database (the owner of the leases it takes).
pub async fn open_for_server(
    db: &Database,
    node: Option<String>,
    sessions: baton_service::SessionOptions,
) -> Result<AnyService> {
    Ok(Service::with_sessions(engine(db, node).await?, sessions))
}

/// Opens the database as a worker's service: `node` names it as the owner of its leases.
pub async fn open_for_worker(db: &Database, node: Option<String>) -> Result<AnyService> {
    Ok(Service::local(engine(db, node).await?))
}

/// Where documents' content is kept when `--documents-dir` (or `BATON_DOCUMENTS_DIR`, or the
/// configuration file's `documents_dir`) says so; else beside the database file. Set once, as
/// the command line is read, before any command opens the database: like the data limits,
/// which come from the environment, it holds for every store the process opens. (On
/// PostgreSQL the content is kept in the database.)
static DOCUMENTS_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Keeps documents' content in `dir` (see [`DOCUMENTS_DIR`]).
pub fn keep_documents_in(dir: PathBuf) {
    let _ = DOCUMENTS_DIR.set(dir);
}

async fn engine(db: &Database, node: Option<String>) -> Result<Engine<AnyStore>> {
    let limits = crate::input::data_limits()?;
    let max_foreach_items = crate::input::foreach_items_limit()?;
    let events = crate::input::event_options()?;
    let store = open_store(db).await.map_err(|source| CliError::Open {
        path: db.display(),
        source,
    })?;
    let mut options = EngineOptions {
        limits,
        max_foreach_items,
        events,
        ..EngineOptions::default()
    };
    if let Some(node) = node {
        options.node = node;
    }
    Ok(Engine::new(store, Arc::new(SystemClock), options))
}

async fn open_store(db: &Database) -> baton_store::Result<AnyStore> {
    match db {
        Database::File(path) => {
            let opened = match DOCUMENTS_DIR.get() {
                Some(dir) => {
                    SqliteStore::open_with_document_dir(path, Durability::Full, dir.clone())
                }
                None => SqliteStore::open(path, Durability::Full),
            };
            Ok(opened?.into())
        }
        Database::Postgres(url) => {
            let store = PgStore::connect(url, PgOptions::default()).await?;
            let schema = store.schema();
            if schema.applied > 0 {
                errln!("baton: applied {} schema migration(s) to the PostgreSQL database {} (now at {})", schema.applied, without_password(url), schema.version);
            }
            Ok(store.into())
        }
    }
}

/// The database `--db` names: a SQLite file as a path or a URL, or a PostgreSQL database.
/// `sqlite://PATH` and `sqlite:PATH` are SQLite files; `postgres://…` and `postgresql://…` are
/// PostgreSQL (checked here, connected to when a command opens it); a URL of another store
/// (`mysql://…`) is refused rather than taken for a file name (which made a folder named
/// `mysql:`). A path is only taken for a URL if it has `://` or starts with a known scheme and `:`.
pub fn database(given: &Path) -> Result<Database> {
    let text = given.to_string_lossy();
    let refuse = |why: String| -> Result<Database> {
        Err(CliError::Input(format!(
            "--db {}: {why}",
            without_password(&text)
        )))
    };
    let (scheme, rest) = match text.split_once(':') {
        Some((scheme, rest)) if rest.starts_with("//") => {
            (scheme.to_ascii_lowercase(), rest.trim_start_matches("//"))
        }
        Some((scheme, rest)) if KNOWN_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) => {
            (scheme.to_ascii_lowercase(), rest)
        }
        _ => return Ok(Database::File(given.to_path_buf())),
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
            return Ok(Database::File(PathBuf::from(rest)));
        }
        "postgres" | "postgresql" => {
            if !text.contains("://") {
                return refuse("write a PostgreSQL database as a URL, postgres://USER@HOST:PORT/DATABASE".into());
            }
            return match PgStore::check_url(&text) {
                Ok(()) => Ok(Database::Postgres(text.into_owned())),
                Err(why) => refuse(format!("not a PostgreSQL URL this build can use ({why}); write postgres://USER@HOST:PORT/DATABASE")),
            };
        }
        "mysql" | "mariadb" => "MySQL",
        _ => return refuse(format!("`{scheme}:` is not a kind of database Baton knows; give a SQLite file path, sqlite://PATH or postgres://…")),
    };
    refuse(format!("{name} is not supported; Baton's stores are SQLite (a file path or sqlite://PATH) and PostgreSQL (postgres://…)"))
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
async fn engine_lock(db: &Path) -> Result<Option<File>> {
    let path = PathBuf::from(format!("{}.lock", db.display()));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(CliError::io(format!("opening {}", path.display())))?;
    let deadline = std::time::Instant::now() + LOCK_GRACE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(CliError::io(format!("locking {}", path.display()))(e))
            }
        }
    }
}

/// The right to run a database's jobs, held for as long as they run.
pub enum JobsHeld {
    /// The lock of a SQLite file: no other process runs its jobs, so the leases of others are
    /// those of a process that died.
    Lock(
        #[expect(
            dead_code,
            reason = "held, never read: the lock ends when the file is closed"
        )]
        File,
    ),
    /// A PostgreSQL database: every node runs jobs, each under its own leases, and the work
    /// of a node that died moves to the others once its leases expire.
    Shared,
}

impl JobsHeld {
    /// Whether holding it proves that whoever holds other leases is gone (so their jobs can
    /// be taken over at once instead of when the leases expire).
    pub fn proves_others_gone(&self) -> bool {
        matches!(self, Self::Lock(_))
    }
}

/// Takes the right to run the jobs of `db`: on a SQLite file its lock (`None` if another
/// process holds it); on PostgreSQL it is always given.
pub async fn hold_jobs(db: &Database) -> Result<Option<JobsHeld>> {
    match db {
        Database::File(path) => Ok(engine_lock(path).await?.map(JobsHeld::Lock)),
        Database::Postgres(_) => Ok(Some(JobsHeld::Shared)),
    }
}
