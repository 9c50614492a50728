//! `baton worker`: running jobs and timers until stopped, with a clean shutdown on Ctrl-C or
//! SIGTERM; and what `baton run` and `baton serve` share of it (the job options, the signals,
//! the lock on running a database's jobs).

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use baton_engine::{PassEnv, WorkerOptions};

use crate::database::{engine_lock, open, SqliteService};
use crate::exit::{self, CliError, Result};

/// How `baton worker` and `baton run` run jobs: the shutdown grace period, and what of this
/// process's environment jobs get.
#[derive(clap::Args)]
pub struct JobArgs {
    /// On Ctrl-C or SIGTERM, how long running jobs may go on before they are stopped (SIGTERM
    /// to the job's whole process group, SIGKILL 5 s later) and left for the next worker,
    /// which runs them again as new attempts; e.g. `10s`, `2m`, `0s`.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub(crate) grace: Duration,
    /// Variables of this process's environment that jobs get besides PATH, HOME, LANG and TZ
    /// (comma-separated). By default jobs get nothing else of it.
    #[arg(long, env = "BATON_PASS_ENV", value_delimiter = ',', value_name = "NAME[,NAME...]")]
    pub(crate) pass_env: Vec<String>,
    /// Jobs get this process's whole environment.
    #[arg(long, env = "BATON_PASS_ENV_ALL", value_parser = clap::builder::FalseyValueParser::new())]
    pass_env_all: bool,
}

impl JobArgs {
    pub fn worker_options(&self, concurrency: usize) -> WorkerOptions {
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
pub(crate) fn shutdown_signals(service: &SqliteService, grace: Duration) -> Result<watch::Receiver<bool>> {
    let mut term = signal(SignalKind::terminate()).map_err(CliError::io("listening for SIGTERM"))?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(CliError::io("listening for Ctrl-C"))?;
    let (tx, rx) = watch::channel(false);
    let engine = service.engine().clone();
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
pub(crate) async fn signalled(mut signals: watch::Receiver<bool>) {
    // An error means the signal task is gone, and with it any signal: wait forever.
    if signals.wait_for(|&stop| stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What a process that runs the jobs of `db` holds: the lock (one such process at a time) and
/// the shutdown signals. Taking it first re-runs what a process that died left of its jobs.
pub(crate) struct JobRunner {
    _lock: File,
    pub signals: watch::Receiver<bool>,
}

impl JobRunner {
    pub(crate) async fn start(db: &Path, service: &SqliteService, grace: Duration) -> Result<Self> {
        let Some(lock) = engine_lock(db).await? else {
            return Err(CliError::JobsLocked(db.display().to_string()));
        };
        let signals = shutdown_signals(service, grace)?;
        let rerun = service.engine().recover().await?;
        if rerun > 0 {
            errln!("baton: re-running {rerun} job(s) left by a process that stopped");
        }
        Ok(Self { _lock: lock, signals })
    }
}

pub async fn worker(db: &Path, options: WorkerOptions, until_idle: bool) -> Result<u8> {
    let service = open(db)?;
    let runner = JobRunner::start(db, &service, options.grace).await?;
    let signals = runner.signals.clone();
    let watcher = service.clone();
    let idle = async move {
        // A store that cannot answer is taken for work left to do.
        while !watcher.idle().await.unwrap_or(false) {
            watcher.engine().wait_for_change(Duration::from_millis(100)).await;
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
    service.engine().run_worker(options, stop).await?;
    Ok(exit::DONE)
}
