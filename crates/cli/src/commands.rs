//! What each subcommand does.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use baton_core::{Command, InstanceStatus};
use baton_engine::{Engine, EngineError, EngineOptions, PassEnv, SystemClock, WorkerOptions};
use baton_store::{IncidentReader, InstanceReader, JobQueue};
use baton_store_sqlite::{Durability, SqliteStore};

use crate::{render, BreakpointCmd, Cli, Cmd, TaskCmd};

pub(crate) type SqliteEngine = Engine<SqliteStore>;

/// Exit code 2 for refused input (a bad definition, bad data, an unknown user, a human-task
/// operation the user may not do), 1 for everything else.
pub fn exit_code_for(error: &anyhow::Error) -> u8 {
    use baton_core::TransitionError as T;
    match error.downcast_ref::<EngineError>() {
        Some(EngineError::Definition(_) | EngineError::Transition(T::InvalidData(_))) => 2,
        Some(EngineError::Transition(T::UserTask { .. } | T::NotAUserTask { .. } | T::UserTaskNotStarted { .. })) => 2,
        Some(EngineError::Identity(e)) if e.is_refusal() => 2,
        Some(EngineError::IncidentNotFound(_) | EngineError::IncidentClosed(_) | EngineError::NothingToRetry { .. }) => 2,
        _ if error.downcast_ref::<baton_store::IdentityError>().is_some_and(baton_store::IdentityError::is_refusal) => 2,
        _ if error.downcast_ref::<InputError>().is_some() => 2,
        _ => 1,
    }
}

/// Input the user must correct (bad `--data`, a bad status name, a definition with problems).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct InputError(pub(crate) String);

pub(crate) fn open(db: &Path) -> Result<SqliteEngine> {
    let store = SqliteStore::open(db, Durability::Full).with_context(|| format!("opening the database {}", db.display()))?;
    Ok(Engine::new(store, Arc::new(SystemClock), EngineOptions::default()))
}

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

pub(crate) fn parse_data(data: Option<&str>) -> Result<Map<String, Value>> {
    let Some(data) = data else { return Ok(Map::new()) };
    let text = match data.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading data file {path}"))?,
        None => data.to_owned(),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(InputError(format!("--data must be a JSON object, got {}", baton_core::definition::json_type_name(&other))).into()),
        Err(e) => Err(InputError(format!("--data is not valid JSON: {e}")).into()),
    }
}

async fn deploy_file(engine: &SqliteEngine, file: &Path) -> Result<(String, u32)> {
    let source = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(engine.deploy(&file.display().to_string(), &source).await?)
}

pub async fn dispatch(cli: Cli) -> Result<u8> {
    let db = cli.db;
    match cli.command {
        Cmd::Run { file, data, concurrency, jobs } => run(&db, &file, data.as_deref(), jobs.worker_options(concurrency)).await,
        Cmd::Deploy { files } => {
            let engine = open(&db)?;
            // Check every file before storing any, so a bad one leaves nothing half-deployed.
            let mut problems = Vec::new();
            for file in &files {
                let source = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
                if let Err(e) = SqliteEngine::validate(&file.display().to_string(), &source) {
                    problems.push(e.to_string());
                }
            }
            if !problems.is_empty() {
                return Err(InputError(problems.join("\n")).into());
            }
            for file in &files {
                let (id, version) = deploy_file(&engine, file).await?;
                println!("deployed {id} version {version} ({})", file.display());
            }
            Ok(0)
        }
        Cmd::Start { process, data } => {
            let engine = open(&db)?;
            let instance = engine.start(&process, parse_data(data.as_deref())?).await?;
            println!("{}", instance.id);
            eprintln!("started {} v{}: {}", instance.definition_id, instance.definition_version, instance.status);
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
            print!("{}", render::instance_list(&rows));
            Ok(0)
        }
        Cmd::Show { instance, json } => {
            let engine = open(&db)?;
            let state = engine.instance(&instance).await?;
            let definition = engine.definition(&state.definition_id, Some(state.definition_version)).await?;
            let history = engine.store().history(&instance).await?;
            let incidents = engine.store().incidents(&instance).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({"instance": state, "history": history, "incidents": incidents}))?);
            } else {
                print!("{}", render::instance(&definition, &state, Some(&history)));
                if !incidents.is_empty() {
                    print!("\nincidents:\n{}", crate::incidents::table(&incidents));
                }
            }
            Ok(0)
        }
        Cmd::Worker { concurrency, until_idle, jobs } => worker(&db, jobs.worker_options(concurrency), until_idle).await,
        Cmd::Tasks(args) => crate::human_tasks::inbox(&db, args).await,
        Cmd::Task { action: TaskCmd::Human(cmd) } => crate::human_tasks::human_task(&db, cmd).await,
        Cmd::Delete { instance, by } => {
            let engine = open(&db)?;
            let state = engine.delete_instance(&instance, &by).await?;
            println!("instance {} deleted ({})", state.id, state.status);
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
            let state = engine.apply(&instance, command).await?;
            println!("instance {} is {}", state.id, state.status);
            Ok(0)
        }
        Cmd::Breakpoint { action } => {
            let engine = open(&db)?;
            let (instance, task, enabled, by) = match action {
                BreakpointCmd::Set { instance, task, by } => (instance, task, true, by),
                BreakpointCmd::Clear { instance, task, by } => (instance, task, false, by),
            };
            let state = engine.apply(&instance, Command::SetBreakpoint { task, enabled, by }).await?;
            println!("instance {} is {}", state.id, state.status);
            Ok(0)
        }
        Cmd::Abort { instance, by } => {
            let engine = open(&db)?;
            let state = engine.apply(&instance, Command::Abort { by }).await?;
            println!("instance {} is {}", state.id, state.status);
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
        eprintln!("baton: re-running {rerun} job(s) left by a process that stopped");
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
    eprintln!("deployed {id} version {version} ({})", file.display());
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
                Err(e) => {
                    tracing::warn!("reading instance: {e}");
                }
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
        eprintln!("another baton process runs the jobs of {}; waiting for it", db.display());
        tokio::select! {
            () = wait_until_settled => {}
            () = signalled(signals) => bail!("interrupted; instance {instance_id} goes on with the process that runs the jobs"),
        }
    }
    let state = engine.instance(&instance_id).await?;
    let definition = engine.definition(&state.definition_id, Some(state.definition_version)).await?;
    print!("{}", render::instance(&definition, &state, None));
    println!("\n{} in {:.2}s", state.status, started.elapsed().as_secs_f64());
    Ok(match state.status {
        InstanceStatus::Completed => 0,
        InstanceStatus::Waiting => 3,
        _ => 1,
    })
}
