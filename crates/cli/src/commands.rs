//! What each subcommand does.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use baton_core::{Command, DataLimitError, DataLimits, InstanceStatus};
use baton_engine::{Engine, EngineError, EngineOptions, ErrorKind, PassEnv, SystemClock, WorkerOptions};
use baton_store::{IncidentReader, InstanceReader, JobQueue};
use baton_store_sqlite::{Durability, SqliteStore};

use crate::{render, BreakpointCmd, Cli, Cmd, TaskCmd};

pub(crate) type SqliteEngine = Engine<SqliteStore>;

/// Baton's exit codes, the same for every command.
pub mod exit {
    /// Done (for `run`: the instance completed).
    pub const DONE: u8 = 0;
    /// `run`: the instance failed, was aborted or is blocked. Any command: Baton or its
    /// database failed (nothing was refused; trying again may work).
    pub const FAILED: u8 = 1;
    /// The request was refused and nothing changed: bad input, an unknown instance, task,
    /// process or user, an operation the state or the user's rights do not allow.
    pub const REFUSED: u8 = 2;
    /// `run`: the instance waits (for a time, a precondition, input or people).
    pub const WAITING: u8 = 3;
}

/// The exit code for an error, derived from its [`ErrorKind`] alone.
pub fn exit_code_for(error: &anyhow::Error) -> u8 {
    if kind_of(error).is_refusal() {
        exit::REFUSED
    } else {
        exit::FAILED
    }
}

/// The kind of the first error in the chain that has one; anything else is internal.
fn kind_of(error: &anyhow::Error) -> ErrorKind {
    error
        .chain()
        .find_map(|e| {
            if let Some(e) = e.downcast_ref::<EngineError>() {
                Some(e.kind())
            } else if e.is::<InputError>() {
                Some(ErrorKind::Invalid)
            } else if let Some(e) = e.downcast_ref::<baton_store::IdentityError>() {
                Some(baton_engine::identity_kind(e))
            } else {
                e.downcast_ref::<baton_store::StoreError>().map(baton_engine::store_kind)
            }
        })
        .unwrap_or(ErrorKind::Internal)
}

/// Input the user must correct (bad `--data`, a bad status name, a definition with problems).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct InputError(pub(crate) String);

pub(crate) fn open(db: &Path) -> Result<SqliteEngine> {
    let limits = data_limits()?;
    let max_foreach_items = foreach_items_limit()?;
    let store = SqliteStore::open(db, Durability::Full).with_context(|| format!("opening the database {}", db.display()))?;
    Ok(Engine::new(store, Arc::new(SystemClock), EngineOptions { limits, max_foreach_items, ..EngineOptions::default() }))
}

/// A whole number from the environment variable `name`, else `default`.
fn env_number(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(default),
        Ok(text) => text.trim().parse().map_err(|_| InputError(format!("{name}=`{text}` is not a whole number")).into()),
        Err(std::env::VarError::NotUnicode(_)) => Err(InputError(format!("{name} is not a whole number")).into()),
    }
}

/// The data limits: `BATON_MAX_DATA_DEPTH` and `BATON_MAX_DATA_BYTES`, else the defaults.
pub(crate) fn data_limits() -> Result<DataLimits> {
    let depth = env_number("BATON_MAX_DATA_DEPTH", DataLimits::DEFAULT_MAX_DEPTH)?;
    let bytes = env_number("BATON_MAX_DATA_BYTES", DataLimits::DEFAULT_MAX_BYTES)?;
    Ok(DataLimits::new(depth, bytes).map_err(InputError)?)
}

/// The most items a ForEach task iterates over: `BATON_MAX_FOREACH_ITEMS`, else the default.
fn foreach_items_limit() -> Result<usize> {
    let limit = env_number("BATON_MAX_FOREACH_ITEMS", baton_core::limits::DEFAULT_MAX_FOREACH_ITEMS)?;
    Ok(baton_core::limits::foreach_items_limit(limit).map_err(InputError)?)
}

/// Reads at most `limit + 1` bytes of a file: enough to tell that it is over the limit
/// without reading all of something endless (`/dev/zero`).
pub(crate) fn read_bounded(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    File::open(path)?.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The SQLite file `--db` names: a path, or a URL. `sqlite://PATH` and `sqlite:PATH` are
/// SQLite files; a URL of another store (`postgres://…`) is refused, there being no such store
/// in this build, rather than taken for a file name (which made a folder named `postgres:`).
/// A path is only taken for a URL if it has `://` or starts with a known scheme and `:`.
pub(crate) fn database_file(given: &Path) -> Result<PathBuf> {
    let text = given.to_string_lossy();
    let refuse = |why: String| -> Result<PathBuf> { Err(InputError(format!("--db {text}: {why}")).into()) };
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
async fn engine_lock(db: &Path) -> Result<Option<File>> {
    let path = PathBuf::from(format!("{}.lock", db.display()));
    let file = File::options().create(true).truncate(false).write(true).open(&path).with_context(|| format!("opening {}", path.display()))?;
    let deadline = std::time::Instant::now() + LOCK_GRACE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e).with_context(|| format!("locking {}", path.display())),
        }
    }
}

/// `--data`: a JSON object, or `@path` to a file holding one, within the data limits.
pub(crate) fn parse_data(data: Option<&str>) -> Result<Map<String, Value>> {
    let Some(data) = data else { return Ok(Map::new()) };
    let limits = data_limits()?;
    let text = match data.strip_prefix('@') {
        Some(path) => {
            let bytes = read_bounded(Path::new(path), limits.max_bytes).with_context(|| format!("reading data file {path}"))?;
            if bytes.len() > limits.max_bytes {
                return Err(InputError(format!("--data @{path} {}", DataLimitError::TooLarge { limit: limits.max_bytes })).into());
            }
            String::from_utf8(bytes).map_err(|_| InputError(format!("--data @{path} is not UTF-8 text")))?
        }
        None => data.to_owned(),
    };
    limits.parse_object(&text).map_err(|e| InputError(format!("--data {e}")).into())
}

/// Reads a definition or calendar file, which must be UTF-8 text (else the problem, with the
/// position of the first byte that is not) within the size limit (read only up to it).
fn read_source(file: &Path) -> Result<Result<String, baton_core::DefinitionError>> {
    let bytes = read_bounded(file, baton_core::definition::document::MAX_SOURCE_BYTES).with_context(|| format!("reading {}", file.display()))?;
    Ok(baton_core::definition::decode_source(&file.display().to_string(), bytes))
}

async fn deploy_file(engine: &SqliteEngine, file: &Path) -> Result<(String, u32)> {
    let source = read_source(file)?.map_err(EngineError::from)?;
    Ok(engine.deploy(&file.display().to_string(), &source).await?)
}

pub async fn dispatch(cli: Cli) -> Result<u8> {
    let db = database_file(&cli.db)?;
    match cli.command {
        Cmd::Run { file, data, concurrency, jobs } => run(&db, &file, data.as_deref(), jobs.worker_options(concurrency)).await,
        Cmd::Deploy { files } => {
            let engine = open(&db)?;
            // Every file is checked before any is stored, and all are stored together.
            let mut sources = Vec::new();
            let mut not_text = Vec::new();
            for file in &files {
                let name = file.display().to_string();
                match read_source(file)? {
                    Ok(source) => sources.push((name, source)),
                    Err(e) => not_text.push(e),
                }
            }
            if !not_text.is_empty() {
                // Report the other files' own problems beside them.
                not_text.extend(sources.iter().filter_map(|(file, source)| match engine.validate(file, source) {
                    Err(EngineError::Definition(e)) => Some(e),
                    _ => None,
                }));
                not_text.sort_by_key(|e| files.iter().position(|f| f.display().to_string() == e.file));
                return Err(EngineError::Definitions(not_text).into());
            }
            for ((id, version), file) in engine.deploy_all(&sources).await?.into_iter().zip(&files) {
                outln!("deployed {id} version {version} ({})", file.display());
            }
            Ok(0)
        }
        Cmd::Start { process, data } => {
            let engine = open(&db)?;
            let instance = engine.start(&process, parse_data(data.as_deref())?).await?;
            outln!("{}", instance.id);
            errln!("started {} v{}: {}", instance.definition_id, instance.definition_version, instance.status);
            Ok(0)
        }
        Cmd::Instances { status: Some(status), limit } if status == "incident" => {
            let engine = open(&db)?;
            let mut rows = Vec::new();
            for incident in engine.store().open_incidents(usize::MAX).await? {
                if rows.len() < limit && !rows.iter().any(|r: &baton_store::InstanceSummary| r.id == incident.instance) {
                    let state = engine.instance(&incident.instance).await?;
                    rows.push(baton_store::InstanceSummary {
                        id: state.id.clone(),
                        definition_id: state.definition_id.clone(),
                        definition_version: state.definition_version,
                        status: state.status,
                        created_at: state.created_at,
                        ended_at: state.ended_at,
                    });
                }
            }
            print!("{}", render::instance_list(&rows));
            Ok(0)
        }
        Cmd::Incidents { limit } => crate::incidents::list(&db, limit).await,
        Cmd::Incident { action } => crate::incidents::act(&db, action).await,
        Cmd::Instances { status, limit } => {
            let status = match status.as_deref() {
                None => None,
                Some(s) => Some(InstanceStatus::parse(s).ok_or_else(|| InputError(format!("unknown status `{s}`; use running, waiting, blocked, completed, failed, aborted or incident")))?),
            };
            let engine = open(&db)?;
            let rows = engine.store().instances(status, limit).await?;
            out!("{}", render::instance_list(&rows));
            Ok(0)
        }
        Cmd::Show { instance, json } => {
            let engine = open(&db)?;
            let state = engine.instance(&instance).await?;
            let definition = engine.definition(&state.definition_id, Some(state.definition_version)).await?;
            let history = engine.store().history(&instance).await?;
            let incidents = engine.store().incidents(&instance).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&serde_json::json!({"instance": state, "history": history, "incidents": incidents}))?);
            } else {
                out!("{}", render::instance(&definition, &state, Some(&history)));
                if !incidents.is_empty() {
                    out!("\nincidents:\n{}", crate::incidents::table(&incidents));
                }
            }
            Ok(0)
        }
        Cmd::Worker { concurrency, until_idle, jobs } => worker(&db, jobs.worker_options(concurrency), until_idle).await,
        Cmd::Tasks(args) => crate::human_tasks::inbox(&db, args).await,
        Cmd::Task { action: TaskCmd::Human(cmd) } => crate::human_tasks::human_task(&db, cmd).await,
        Cmd::Delete { instance, by } => {
            let engine = open(&db)?;
            let state = engine.delete_instance_by(&instance, &by).await?;
            outln!("instance {} deleted ({})", state.id, state.status);
            Ok(0)
        }
        Cmd::Task { action } => {
            let engine = open(&db)?;
            let (instance, command) = match action {
                TaskCmd::Retry { instance, task, by } => (instance, Command::RetryTask { task, by }),
                TaskCmd::Skip { instance, task, by } => (instance, Command::SkipTask { task, by }),
                TaskCmd::Input { instance, task, data, by } => (instance, Command::ProvideInput { task, values: parse_data(Some(&data))?, by }),
                TaskCmd::Human(_) => unreachable!("handled above"),
            };
            let state = engine.operate(&instance, command).await?;
            outln!("instance {} is {}", state.id, state.status);
            Ok(0)
        }
        Cmd::Breakpoint { action } => {
            let engine = open(&db)?;
            let (instance, task, enabled, by) = match action {
                BreakpointCmd::Set { instance, task, by } => (instance, task, true, by),
                BreakpointCmd::Clear { instance, task, by } => (instance, task, false, by),
            };
            let state = engine.operate(&instance, Command::SetBreakpoint { task, enabled, by }).await?;
            outln!("instance {} is {}", state.id, state.status);
            Ok(0)
        }
        Cmd::Abort { instance, by } => {
            let engine = open(&db)?;
            let state = engine.operate(&instance, Command::Abort { by }).await?;
            outln!("instance {} is {}", state.id, state.status);
            Ok(0)
        }
        Cmd::Bench(args) => crate::bench::run(args).await,
        Cmd::User { action } => crate::identity::user(&db, action).await,
        Cmd::Group { action } => crate::identity::group(&db, action).await,
    }
}

/// How `baton worker` and `baton run` run jobs: the shutdown grace period, and what of this
/// process's environment jobs get.
#[derive(clap::Args)]
pub(crate) struct JobArgs {
    /// On Ctrl-C or SIGTERM, how long running jobs may go on before they are stopped (SIGTERM
    /// to the job's whole process group, SIGKILL 5 s later) and left for the next worker,
    /// which runs them again as new attempts; e.g. `10s`, `2m`, `0s`.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    grace: Duration,
    /// Variables of this process's environment that jobs get besides PATH, HOME, LANG and TZ
    /// (comma-separated). By default jobs get nothing else of it.
    #[arg(long, env = "BATON_PASS_ENV", value_delimiter = ',', value_name = "NAME[,NAME...]")]
    pass_env: Vec<String>,
    /// Jobs get this process's whole environment.
    #[arg(long, env = "BATON_PASS_ENV_ALL", value_parser = clap::builder::FalseyValueParser::new())]
    pass_env_all: bool,
}

impl JobArgs {
    fn worker_options(&self, concurrency: usize) -> WorkerOptions {
        let pass_env = match (self.pass_env_all, self.pass_env.iter().filter(|n| !n.is_empty()).cloned().collect::<Vec<_>>()) {
            (true, _) => PassEnv::All,
            (false, names) if names.is_empty() => PassEnv::Defaults,
            (false, names) => PassEnv::Names(names),
        };
        WorkerOptions { concurrency, grace: self.grace, pass_env, ..WorkerOptions::default() }
    }
}

/// Handles Ctrl-C and SIGTERM alike from now on: the first sets the returned flag (the worker
/// stops taking work and gives running jobs `grace`), a second stops running jobs at once.
fn shutdown_signals(engine: &SqliteEngine, grace: Duration) -> Result<watch::Receiver<bool>> {
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
    let (tx, rx) = watch::channel(false);
    let engine = engine.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        eprintln!("baton: stopping; running jobs have {} to finish (Ctrl-C or SIGTERM again stops them now)", humantime::format_duration(grace));
        let _ = tx.send(true);
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        let stopped = engine.interrupt_jobs();
        eprintln!("baton: stopping {stopped} running job(s) now; the next worker runs them again");
    });
    Ok(rx)
}

/// Resolves once a shutdown signal came.
async fn signalled(mut signals: watch::Receiver<bool>) {
    // An error means the signal task is gone, and with it any signal: wait forever.
    if signals.wait_for(|&stop| stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn worker(db: &Path, options: WorkerOptions, until_idle: bool) -> Result<u8> {
    let engine = open(db)?;
    let Some(_lock) = engine_lock(db).await? else {
        bail!("another baton process is already running the jobs of {}", db.display());
    };
    let signals = shutdown_signals(&engine, options.grace)?;
    let rerun = engine.recover().await?;
    if rerun > 0 {
        errln!("baton: re-running {rerun} job(s) left by a process that stopped");
    }
    let idle_engine = engine.clone();
    let idle = async move {
        loop {
            // Idle: nothing open, or every open instance waits (for time, a precondition
            // or input) or is blocked, and no job is queued or leased.
            let open = idle_engine.store().open_counts().await.unwrap_or(baton_store::OpenCounts { running: 1, ..Default::default() });
            let queued = idle_engine.store().queued_jobs().await.unwrap_or(1);
            let leased = idle_engine.store().leased_jobs().await.map(|j| j.len()).unwrap_or(1);
            if open.total() == 0 || (queued == 0 && leased == 0 && open.running <= stuck_running(&idle_engine).await) {
                return;
            }
            idle_engine.wait_for_change(Duration::from_millis(100)).await;
        }
    };
    let stop = async move {
        if until_idle {
            tokio::select! {
                () = idle => {}
                () = signalled(signals) => {}
            }
        } else {
            signalled(signals).await;
        }
    };
    engine.run_worker(options, stop).await?;
    Ok(0)
}

/// Running instances with an open incident: nothing moves them until someone acts on it.
async fn stuck_running(engine: &SqliteEngine) -> usize {
    let Ok(incidents) = engine.store().open_incidents(10_000).await else { return 0 };
    let mut instances: Vec<&str> = incidents.iter().map(|i| i.instance.as_str()).collect();
    instances.sort_unstable();
    instances.dedup();
    let mut stuck = 0;
    for id in instances {
        if engine.instance(id).await.is_ok_and(|i| i.status == InstanceStatus::Running) {
            stuck += 1;
        }
    }
    stuck
}

async fn run(db: &Path, file: &Path, data: Option<&str>, options: WorkerOptions) -> Result<u8> {
    let engine = open(db)?;
    let data = parse_data(data)?;
    let lock = engine_lock(db).await?;
    let signals = shutdown_signals(&engine, options.grace)?;
    if lock.is_some() {
        engine.recover().await?;
    }
    let (id, version) = deploy_file(&engine, file).await?;
    errln!("deployed {id} version {version} ({})", file.display());
    let started = std::time::Instant::now();
    let instance = engine.start(&id, data).await?;
    let instance_id = instance.id.clone();
    let settled = |s: InstanceStatus| s.is_terminal() || matches!(s, InstanceStatus::Blocked | InstanceStatus::Waiting);

    let watcher = engine.clone();
    let watch_id = instance_id.clone();
    let wait_until_settled = async move {
        loop {
            match watcher.instance(&watch_id).await {
                Ok(i) if settled(i.status) => return,
                Ok(_) => {}
                // Reading it again would fail again: stop, and the read below reports why.
                Err(_) => return,
            }
            watcher.wait_for_change(Duration::from_millis(100)).await;
        }
    };
    if lock.is_some() {
        let interrupted = signalled(signals.clone());
        let stop = async move {
            tokio::select! {
                () = wait_until_settled => {}
                () = interrupted => {}
            }
        };
        engine.run_worker(options, stop).await?;
        if *signals.borrow() {
            bail!("interrupted; instance {instance_id} goes on with the next `baton worker`");
        }
    } else {
        errln!("another baton process runs the jobs of {}; waiting for it", db.display());
        tokio::select! {
            () = wait_until_settled => {}
            () = signalled(signals) => bail!("interrupted; instance {instance_id} goes on with the process that runs the jobs"),
        }
    }
    let state = engine.instance(&instance_id).await?;
    let definition = engine.definition(&state.definition_id, Some(state.definition_version)).await?;
    out!("{}", render::instance(&definition, &state, None));
    outln!("\n{} in {:.2}s", state.status, started.elapsed().as_secs_f64());
    Ok(match state.status {
        InstanceStatus::Completed => exit::DONE,
        InstanceStatus::Waiting => exit::WAITING,
        _ => exit::FAILED,
    })
}
