//! `baton run`: deploy a file, start an instance of it and follow it until it settles (it
//! completes, fails, is aborted, blocks or waits), then print it. On the database file this
//! process runs the jobs (or waits for the process that already does); with `--server` the
//! server's worker runs them, and this asks the server for the instance until it settles.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};

use baton_api_model::{Data, Instance, InstanceStatus, TaskStatus};
use baton_engine::{PassEnv, WorkerOptions};

use crate::backend::{Backend, Location};
use crate::database::{hold_jobs, open_for_worker, Database};
use crate::exit::{self, CliError, Result};
use crate::input::{parse_data, source_file};
use crate::progress::{failed_job_stderr, Progress};
use crate::render;
use crate::worker::{shutdown_signals, signalled, JobArgs};

/// The first pause between two questions to a server about the instance; each next one is
/// twice as long, up to [`LONGEST_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(50);
/// The longest pause between two questions to a server.
const LONGEST_POLL: Duration = Duration::from_secs(1);

pub async fn run(
    location: Location,
    file: &Path,
    data: Option<&str>,
    jobs: &JobArgs,
    concurrency: usize,
    json: bool,
) -> Result<u8> {
    let options = jobs.worker_options(concurrency);
    let data = parse_data(data)?;
    match location {
        Location::Database(db) => run_here(&db, jobs.node()?, file, data, options, json).await,
        Location::Server(_) if !matches!(options.pass_env, PassEnv::Defaults) => Err(CliError::Input(
            "--pass-env and --pass-env-all choose what the jobs this process runs get; with --server the server runs them (give them to `baton serve`)".into(),
        )),
        Location::Server(client) => follow_on_server(&Backend::Remote(client), file, data, json).await,
    }
}

/// Does the instance wait for nothing `baton run` does (it ended, blocks or waits)?
fn settled(status: InstanceStatus) -> bool {
    matches!(
        status,
        InstanceStatus::Completed
            | InstanceStatus::Failed
            | InstanceStatus::Aborted
            | InstanceStatus::Blocked
            | InstanceStatus::Waiting
    )
}

/// Deploys `file` and starts an instance of it: its id, and when it started.
async fn deploy_and_start(backend: &Backend, file: &Path, data: Data) -> Result<(String, Instant)> {
    let deployed = backend.deploy(vec![source_file(file)?]).await?.remove(0);
    errln!("{}", crate::definitions::deployed_line(&deployed));
    for warning in &deployed.warnings {
        errln!("{}: warning: {warning}", file.display());
    }
    let started = Instant::now();
    Ok((backend.start(&deployed.id, data).await?.id, started))
}

/// Prints the settled instance (with the stderr of the jobs that failed) and gives the exit
/// code its status means.
async fn summary(backend: &Backend, state: &Instance, started: Instant, json: bool) -> Result<u8> {
    if json {
        outln!("{}", render::json(state));
    } else {
        out!("{}", render::instance(state, &[], None));
        if state
            .tasks
            .values()
            .any(|t| t.state.status == TaskStatus::EndedNotOk)
        {
            out!(
                "{}",
                failed_job_stderr(state, &backend.history(None, &state.id).await?)
            );
        }
        outln!(
            "\n{} in {:.2}s",
            state.status,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(match state.status {
        InstanceStatus::Completed => exit::DONE,
        InstanceStatus::Waiting => exit::WAITING,
        _ => exit::FAILED,
    })
}

/// On the database file: this process runs the jobs of the instance it starts and of the
/// instances under it (not those of others: `baton worker` runs them), unless another process
/// holds the lock on running jobs, which then does.
async fn run_here(
    db: &Database,
    node: String,
    file: &Path,
    data: Data,
    mut options: WorkerOptions,
    json: bool,
) -> Result<u8> {
    let service = open_for_worker(db, Some(node)).await?;
    let lock = hold_jobs(db).await?;
    let signals = shutdown_signals(&service, options.grace)?;
    if let Some(held) = &lock {
        crate::worker::recover_if_alone(held, &service).await?;
    }
    let backend = Backend::Local(service.clone());
    let (instance_id, started) = deploy_and_start(&backend, file, data).await?;
    // A new instance is the root of its own case, which holds every instance under it.
    options.case = Some(instance_id.clone());

    let watcher = service.clone();
    let watch_id = instance_id.clone();
    let wait_until_settled = async move {
        let mut progress = Progress::new();
        loop {
            match watcher.instance(baton_store::OPERATOR, &watch_id).await {
                Ok(i) => {
                    progress.update(&i);
                    if settled(i.status) {
                        progress.finish();
                        return;
                    }
                }
                // Reading it again would fail again: stop, and the read below reports why.
                Err(_) => return,
            }
            watcher
                .engine()
                .wait_for_change(Duration::from_millis(100))
                .await;
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
        service.engine().run_worker(options, stop).await?;
        if *signals.borrow() {
            return Err(CliError::Interrupted {
                instance: instance_id,
                goes_on_with: "the next `baton worker`",
            });
        }
    } else {
        errln!(
            "another baton process runs the jobs of {}; waiting for it",
            db.display()
        );
        tokio::select! {
            () = wait_until_settled => {}
            () = signalled(signals) => return Err(CliError::Interrupted { instance: instance_id, goes_on_with: "the process that runs the jobs" }),
        }
    }
    summary(
        &backend,
        &backend.instance(None, &instance_id).await?,
        started,
        json,
    )
    .await
}

/// With `--server`: the server's worker runs the jobs; this asks for the instance, less and
/// less often, until it settles. Ctrl-C or SIGTERM stops following it (it goes on).
async fn follow_on_server(backend: &Backend, file: &Path, data: Data, json: bool) -> Result<u8> {
    let mut term =
        signal(SignalKind::terminate()).map_err(CliError::io("listening for SIGTERM"))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(CliError::io("listening for Ctrl-C"))?;
    let (instance_id, started) = deploy_and_start(backend, file, data).await?;
    let mut pause = FIRST_POLL;
    let mut progress = Progress::new();
    loop {
        let state = backend.instance(None, &instance_id).await?;
        progress.update(&state);
        if settled(state.status) {
            progress.finish();
            return summary(backend, &state, started, json).await;
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = term.recv() => return Err(CliError::Interrupted { instance: instance_id, goes_on_with: "the server" }),
            _ = interrupt.recv() => return Err(CliError::Interrupted { instance: instance_id, goes_on_with: "the server" }),
        }
        pause = (pause * 2).min(LONGEST_POLL);
    }
}
