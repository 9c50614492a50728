//! `baton worker`: running jobs and timers until stopped, with a clean shutdown on Ctrl-C or
//! SIGTERM; and what `baton run` and `baton serve` share of it (the job options, the signals,
//! the lock on running a database's jobs).

use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use baton_engine::{PassEnv, WorkerOptions};

use crate::database::{hold_jobs, open_for_worker, AnyService, Database, JobsHeld};
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
    #[arg(
        long,
        env = "BATON_PASS_ENV",
        value_delimiter = ',',
        value_name = "NAME[,NAME...]"
    )]
    pub(crate) pass_env: Vec<String>,
    /// Jobs get this process's whole environment.
    #[arg(long, env = "BATON_PASS_ENV_ALL", value_parser = clap::builder::FalseyValueParser::new())]
    pass_env_all: bool,
    /// This process's name among the nodes that share a PostgreSQL database: the owner of the
    /// jobs and timers it leases. Each node needs its own. Default: the host name and the
    /// process id.
    #[arg(long, env = "BATON_NODE", value_name = "NAME")]
    pub(crate) node: Option<String>,
    /// How long a node's lease on a job or a timer lasts; it renews the leases of running jobs
    /// three times per lease. When a node dies, the others take its work over once its leases
    /// expire (on a SQLite file, the next process takes it over at once). E.g. `30s`, `2m`.
    #[arg(long, env = "BATON_LEASE", default_value = "30s", value_parser = parse_lease, value_name = "DURATION")]
    pub(crate) lease: Duration,
}

/// The shortest and longest lease `--lease` takes.
const LEASES: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(24 * 3600);

fn parse_lease(text: &str) -> std::result::Result<Duration, String> {
    let lease = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if !LEASES.contains(&lease) {
        return Err(format!(
            "a lease lasts from {} to {}",
            humantime::format_duration(*LEASES.start()),
            humantime::format_duration(*LEASES.end())
        ));
    }
    Ok(lease)
}

impl JobArgs {
    pub fn worker_options(&self, concurrency: usize) -> WorkerOptions {
        let pass_env = match (
            self.pass_env_all,
            self.pass_env
                .iter()
                .filter(|n| !n.is_empty())
                .cloned()
                .collect::<Vec<_>>(),
        ) {
            (true, _) => PassEnv::All,
            (false, names) if names.is_empty() => PassEnv::Defaults,
            (false, names) => PassEnv::Names(names),
        };
        WorkerOptions {
            concurrency,
            grace: self.grace,
            pass_env,
            lease: self.lease,
            ..WorkerOptions::default()
        }
    }

    /// The name this process leases jobs and timers under (see `--node`).
    pub fn node(&self) -> Result<String> {
        match self.node.as_deref() {
            Some(node) => {
                baton_store::identity::check_name("node", node)
                    .map_err(|e| CliError::Input(format!("--node: {e}")))?;
                Ok(node.to_owned())
            }
            None => {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "node".into());
                Ok(format!("{host}-{}", std::process::id()))
            }
        }
    }
}

/// Handles Ctrl-C and SIGTERM alike from now on: the first sets the returned flag (the worker
/// stops taking work and gives running jobs `grace`), a second stops running jobs at once.
pub(crate) fn shutdown_signals(
    service: &AnyService,
    grace: Duration,
) -> Result<watch::Receiver<bool>> {
    let mut term =
        signal(SignalKind::terminate()).map_err(CliError::io("listening for SIGTERM"))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(CliError::io("listening for Ctrl-C"))?;
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

/// What a process that runs the jobs of `db` holds: the right to run them (on a SQLite file its
/// lock: one such process at a time) and the shutdown signals. On a SQLite file, taking it first
/// re-runs what a process that died left of its jobs; on PostgreSQL the other nodes' leases
/// are left to expire.
pub(crate) struct JobRunner {
    _held: JobsHeld,
    pub signals: watch::Receiver<bool>,
}

impl JobRunner {
    pub(crate) async fn start(
        db: &Database,
        service: &AnyService,
        grace: Duration,
    ) -> Result<Self> {
        let Some(held) = hold_jobs(db).await? else {
            return Err(CliError::JobsLocked(db.display()));
        };
        let signals = shutdown_signals(service, grace)?;
        recover_if_alone(&held, service).await?;
        Ok(Self {
            _held: held,
            signals,
        })
    }
}

/// On a SQLite file whose lock this process holds: stops what a process that died left of its
/// jobs and runs them again. Nothing on PostgreSQL, where other nodes may be alive: there an
/// abandoned lease is taken over by whichever node finds it expired.
pub(crate) async fn recover_if_alone(held: &JobsHeld, service: &AnyService) -> Result<()> {
    if held.proves_others_gone() {
        let rerun = service.engine().recover().await?;
        if rerun > 0 {
            errln!("baton: re-running {rerun} job(s) left by a process that stopped");
        }
    }
    Ok(())
}

pub async fn worker(
    db: &Database,
    node: String,
    options: WorkerOptions,
    until_idle: bool,
) -> Result<u8> {
    let service = open_for_worker(db, Some(node)).await?;
    let runner = JobRunner::start(db, &service, options.grace).await?;
    let signals = runner.signals.clone();
    let watcher = service.clone();
    let idle = async move {
        // A store that cannot answer is taken for work left to do.
        while !watcher.idle().await.unwrap_or(false) {
            watcher
                .engine()
                .wait_for_change(Duration::from_millis(100))
                .await;
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
