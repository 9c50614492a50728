//! The built-in job runner: fires due durable timers, leases queued jobs and runs their
//! commands as child processes.
//!
//! A job runs in a clean environment: what [`PassEnv`] lets through from the worker's, its
//! task's `env` (computed from process data), then `BATON_INSTANCE`, `BATON_TASK`,
//! `BATON_ATTEMPT` and `BATON_OUTPUT`: a file it may write a JSON object to, in a directory made
//! for this attempt alone (mode 0700, created atomically under a random name) and removed after
//! it. A JSON object printed on stdout (all of it, or its last line) is taken as output too.
//!
//! Every job runs in a process group of its own, stopped whole when the job times out, is
//! canceled, ends leaving processes behind, or the worker shuts down (see [`process_group`]).
//! Its command starts only once its process is durably recorded in the store: the job's first
//! process is a POSIX shell that waits on a pipe from the worker and then `exec`s the command,
//! so a worker killed at any moment leaves no process it has not recorded, and the next worker
//! stops what is left of the attempt before it runs the job again.
//!
//! [`process_group`]: crate::process_group

use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use baton_core::{Command, JobOutcome, JobRequest};
use baton_store::{Changed, ClaimedJob, JobKey, JobProcess, Store, WorkScope};

use crate::engine::{Cleanup, Engine, JobSlot};
use crate::error::EngineError;
use crate::job_environment::PassEnv;
use crate::process_group;

/// Most timers the worker fires at once (their steps share group commits). It reads more due
/// timers whenever fewer than half of that are still firing, without waiting for the rest.
const TIMER_BATCH: usize = 2048;

/// How much of a job's stdout and stderr is kept in history.
const TAIL_CHARS: usize = 2000;
/// Largest stdout read for JSON output; beyond it only the tail is kept.
const MAX_CAPTURE: usize = 1 << 20;
/// Largest `$BATON_OUTPUT` file read; a larger one is ignored, with a note in the stderr tail.
const MAX_OUTPUT_FILE: u64 = 1 << 20;

/// The shell every job starts as (POSIX requires it at this path in practice; string commands
/// need it anyway).
const GATE_SHELL: &str = "/bin/sh";

/// Where a program named without a `/` is looked for when the job has no `PATH`.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// How long a stopped job's processes have between SIGTERM and SIGKILL, by default.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// How many due schedules one pass of the worker fires.
const SCHEDULES_PER_LOOK: usize = 64;

/// How long running jobs may go on after a worker is asked to stop, by default.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs run at once by this worker.
    pub concurrency: usize,
    /// How often the queue is polled for jobs queued by other processes.
    pub poll_interval: Duration,
    /// How long a lease lasts before another node may take the job (multi-node stores).
    pub lease: Duration,
    /// Once the worker is asked to stop, how long running jobs may go on before they are
    /// stopped and left for the next worker to run again.
    pub grace: Duration,
    /// How long a stopped job's processes have between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// What of the worker's own environment jobs get.
    pub pass_env: PassEnv,
    /// Only the jobs and timers of this case's instances (a root and every instance under it):
    /// `baton run` drives the instance it started and leaves the others alone. Such a worker
    /// takes over no expired leases either; a worker of every case does that.
    pub case: Option<String>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            poll_interval: Duration::from_millis(200),
            lease: Duration::from_secs(300),
            grace: SHUTDOWN_GRACE,
            kill_grace: KILL_GRACE,
            pass_env: PassEnv::Defaults,
            case: None,
        }
    }
}

/// What every job of a worker is run with.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// The variables of the worker's environment jobs get.
    pub inherited_env: Vec<(OsString, OsString)>,
    /// How long a stopped job's processes have between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
}

impl JobSettings {
    /// Settings for a worker in this process's environment.
    pub fn new(pass_env: &PassEnv, kill_grace: Duration) -> Self {
        Self {
            inherited_env: pass_env.select(std::env::vars_os()),
            kill_grace,
        }
    }
}

impl Default for JobSettings {
    fn default() -> Self {
        Self::new(&PassEnv::Defaults, KILL_GRACE)
    }
}

/// Why a running job is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The attempt is no longer wanted (an abort, a maximum-runtime cancel).
    Cancel,
    /// The worker shuts down: the attempt is left for the next worker to run again.
    Shutdown,
}

/// How a run of a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobRun {
    /// The job ended (or could not start, or was stopped as canceled): its outcome.
    Ended(JobOutcome),
    /// Stopped for a shutdown: it has no outcome, and runs again as a new attempt.
    Interrupted,
}

impl<S: Store> Engine<S> {
    /// Leases and runs jobs until `stop` resolves. Then it takes no more work, lets running
    /// jobs finish within `options.grace`, and stops those still running (see
    /// [`interrupt_jobs`](Self::interrupt_jobs)) before returning.
    pub async fn run_worker(
        &self,
        options: WorkerOptions,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), EngineError> {
        tokio::pin!(stop);
        self.inner.interrupted.store(false, Ordering::SeqCst);
        let settings = Arc::new(JobSettings::new(&options.pass_env, options.kill_grace));
        // Subscribed first: a job queued or a timer set from here on wakes the loop, even while
        // it is busy elsewhere (the notifications wait in the subscription).
        let mut changes = self.inner.store.subscribe_changes();
        let mut running: JoinSet<()> = JoinSet::new();
        let mut timers = TimerPump::default();
        // Whether to look at the job queue on this pass: at first, when jobs were queued, when
        // the queue was left full, and every poll interval (jobs of processes that do not tell
        // this one). Not on every pass: a pass per fired timer would make a write of each look.
        let mut look = true;
        let mut last_look = Instant::now();
        let mut last_sweep: Option<Instant> = None;
        // Leases of running jobs are renewed a few times per lease, so a live node never loses one.
        let renew_every = options.lease / 3;
        let mut last_renewal = Instant::now();
        let scope = options
            .case
            .as_deref()
            .map_or(WorkScope::All, WorkScope::Case);
        loop {
            // Durable timers first: a due timer may queue a job.
            timers.top_up(self, scope).await?;
            // A step of this engine may have begun a wait that a buffered event is for.
            self.deliver_to_fresh_subscriptions().await;
            if last_renewal.elapsed() >= renew_every {
                last_renewal = Instant::now();
                self.renew_job_leases(options.lease).await?;
            }
            // Leases that expired (a node or an external worker that died or stalled) are
            // taken over, once a poll interval: their jobs are offered again as new attempts.
            if last_sweep.is_none_or(|at| at.elapsed() >= options.poll_interval) {
                last_sweep = Some(Instant::now());
                if scope == WorkScope::All {
                    self.take_over_expired_leases().await?;
                }
                // Buffered events for subscriptions stored elsewhere, events whose publisher
                // died, and the expiry of the buffer (see `correlation`).
                if let Err(e) = self.sweep_events().await {
                    tracing::warn!("the sweep of published events failed: {e}");
                }
                // Due slots of schedules, and slots waiting for an instance to end.
                if let Err(e) = self.fire_due_schedules(SCHEDULES_PER_LOOK).await {
                    tracing::warn!("firing due schedules failed: {e}");
                }
            }
            let free = options.concurrency.saturating_sub(running.len());
            look |= last_look.elapsed() >= options.poll_interval;
            if free > 0 && look {
                let now = self.inner.clock.now();
                let jobs = self
                    .inner
                    .store
                    .claim_jobs_in(&self.inner.options.node, scope, free, options.lease, now)
                    .await?;
                // A full claim may have left more behind: look again once a slot frees up.
                look = jobs.len() == free;
                last_look = Instant::now();
                for job in jobs {
                    let engine = self.clone();
                    let settings = settings.clone();
                    running.spawn(async move { engine.execute(job, &settings).await });
                }
            }
            // Sleep until new work, the next timer, the next renewal, or the next look at the
            // queue, whichever comes first. While timers fire, the next due one is likely one of
            // them: a firing that ends wakes the loop instead.
            let mut nap = options
                .poll_interval
                .saturating_sub(last_look.elapsed())
                .min(renew_every.saturating_sub(last_renewal.elapsed()));
            if let Some(due) = self.inner.store.next_schedule_due().await? {
                let until = (due - self.inner.clock.now()).to_std().unwrap_or_default();
                nap = nap.min(until);
            }
            if !timers.busy() {
                if let Some(due) = self.inner.store.next_timer_due_in(scope).await? {
                    let until = (due - self.inner.clock.now()).to_std().unwrap_or_default();
                    nap = nap.min(until);
                }
            }
            tokio::select! {
                changed = worker_news(&mut changes) => look |= changed.jobs,
                _ = running.join_next(), if !running.is_empty() => {}
                fired = timers.settle(), if timers.busy() => fired?,
                () = tokio::time::sleep(nap) => {}
                () = &mut stop => break,
            }
        }
        // No more work is taken. Running jobs may finish within the grace period; then those
        // still running are stopped and left for the next worker.
        let grace = tokio::time::sleep(options.grace);
        tokio::pin!(grace);
        let mut graced = false;
        while !running.is_empty() {
            tokio::select! {
                _ = running.join_next() => {}
                () = &mut grace, if !graced => {
                    graced = true;
                    let stopped = self.interrupt_jobs();
                    tracing::info!("{stopped} job(s) still running after the {:?} grace period are stopped; the next worker runs them again", options.grace);
                }
            }
        }
        while timers.busy() {
            timers.next().await?;
        }
        Ok(())
    }

    /// Stops every job this engine runs, and every job it would start from now on until the
    /// next [`run_worker`](Self::run_worker), for the next worker to run again: each one's
    /// process group gets SIGTERM, then SIGKILL after the kill grace; its result is not
    /// applied and its attempt stays leased, so the next worker re-runs it as a new attempt,
    /// as after a crash (its processes are gone by then: never two attempts at once).
    /// Returns how many were running.
    pub fn interrupt_jobs(&self) -> usize {
        let mut running = self.inner.running.lock().unwrap_or_else(|e| e.into_inner());
        self.inner.interrupted.store(true, Ordering::SeqCst);
        let count = running.len();
        for (_, stop) in running.drain() {
            let _ = stop.send(Stop::Shutdown);
        }
        count
    }

    /// Renews the leases of the jobs running here; a job whose lease was lost meanwhile (this
    /// node stalled past it, and another node took the job over) is stopped, since its attempt
    /// now runs elsewhere and its result would be refused.
    async fn renew_job_leases(&self, lease: Duration) -> Result<(), EngineError> {
        let held: Vec<JobKey> = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        if held.is_empty() {
            return Ok(());
        }
        let now = self.inner.clock.now();
        let renewed = self
            .inner
            .store
            .renew_leases(
                &self.inner.options.node,
                &held,
                baton_core::timestamp::after(now, lease),
                now,
            )
            .await?;
        let renewed: std::collections::HashSet<JobKey> = renewed.into_iter().collect();
        let mut running = self.inner.running.lock().unwrap_or_else(|e| e.into_inner());
        for key in held.into_iter().filter(|k| !renewed.contains(k)) {
            if let Some(stop) = running.remove(&key) {
                tracing::warn!(instance = %key.instance, task = %key.task, attempt = key.attempt, "the lease of a running job was lost; stopping it");
                let _ = stop.send(Stop::Cancel);
            }
        }
        Ok(())
    }

    async fn execute(&self, job: ClaimedJob, settings: &JobSettings) {
        let (request, lease) = (job.request, job.lease);
        let key = JobKey::of(&request);
        let (stop_tx, stop_rx) = oneshot::channel();
        let interrupted = {
            let mut running = self.inner.running.lock().unwrap_or_else(|e| e.into_inner());
            running.insert(key.clone(), stop_tx);
            self.inner.interrupted.load(Ordering::SeqCst)
        };
        if interrupted {
            self.forget_running(&key);
            tracing::info!(instance = %request.instance, task = %request.task, attempt = request.attempt, "the worker is stopping; job left for the next worker");
            return;
        }
        // One attempt of a task at a time: a new attempt waits until the processes of an
        // earlier one (canceled, then retried) are gone.
        let slot = self.job_slot(&key);
        let guard = slot.lock().await;
        // A step between the claim and the insert above (an abort, a max-runtime cancel) could
        // not find this job to stop it; from there on a cancel reaches it. So check once that
        // the attempt is still wanted before running anything.
        let wanted = self.attempt_is_running(&request).await;
        if !wanted {
            self.forget_running(&key);
            drop(guard);
            self.release_job_slot(&key, slot);
            tracing::info!(instance = %request.instance, task = %request.task, attempt = request.attempt, "job no longer wanted; not run");
            return;
        }
        tracing::debug!(instance = %request.instance, task = %request.task, attempt = request.attempt, "running job");
        let recorded = AtomicBool::new(false);
        let run = run_job(&request, settings, stop_rx, |process| {
            let (store, key, recorded) = (&self.inner.store, &key, &recorded);
            async move {
                store
                    .record_job_process(key, &process)
                    .await
                    .map_err(|e| e.to_string())?;
                recorded.store(true, Ordering::SeqCst);
                Ok(())
            }
        })
        .await;
        self.forget_running(&key);
        drop(guard);
        self.release_job_slot(&key, slot);
        // `run_job` returns once no process of the job is left, so its record can go; in
        // whichever order the two writes land (they may share a commit), a crash between them
        // leaves either a record of dead processes or a job to run again.
        let forget = async {
            if recorded.load(Ordering::SeqCst) {
                if let Err(e) = self.inner.store.forget_job_process(&key).await {
                    tracing::warn!(instance = %request.instance, task = %request.task, "the record of a finished job's process stays: {e}");
                }
            }
        };
        let report = async {
            match run {
                JobRun::Ended(outcome) => {
                    // Applied only under this node's lease: if it was lost, the attempt is
                    // another node's now.
                    let command = Command::JobFinished {
                        task: request.task.clone(),
                        attempt: request.attempt,
                        outcome,
                    };
                    let applied = self
                        .apply_cleaning(
                            &request.instance,
                            command,
                            Cleanup::fenced(&self.inner.options.node, Some(lease)),
                        )
                        .await;
                    self.deliver_to_fresh_subscriptions().await;
                    if let Err(e) = applied {
                        tracing::info!(instance = %request.instance, task = %request.task, "job result not applied: {e}");
                    }
                }
                JobRun::Interrupted => {
                    tracing::info!(instance = %request.instance, task = %request.task, attempt = request.attempt, "job stopped for shutdown; the next worker runs it again");
                }
            }
        };
        tokio::join!(forget, report);
    }

    fn forget_running(&self, key: &JobKey) {
        self.inner
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    fn job_slot(&self, key: &JobKey) -> JobSlot {
        let mut slots = self
            .inner
            .job_slots
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        slots
            .entry((key.instance.clone(), key.task.clone()))
            .or_default()
            .clone()
    }

    fn release_job_slot(&self, key: &JobKey, slot: JobSlot) {
        let mut slots = self
            .inner
            .job_slots
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Ours and the map's: no other attempt waits, so the entry can go.
        if Arc::strong_count(&slot) == 2 {
            slots.remove(&(key.instance.clone(), key.task.clone()));
        }
    }
}

impl<S: Store> Engine<S> {
    /// Is this job attempt still the running attempt of its task?
    async fn attempt_is_running(&self, request: &JobRequest) -> bool {
        let state = match self.instance(&request.instance).await {
            Ok(state) => state,
            Err(EngineError::InstanceNotFound(_)) => return false,
            // Cannot tell (the state does not read back, the store failed): run it, and the
            // step that applies its result raises an incident if the fault is the instance's.
            // Skipping it would leave the job to be claimed and skipped again forever.
            Err(_) => return true,
        };
        // Likewise when the instance's stored definition no longer loads.
        let Ok(definition) = self
            .definition(&state.definition_id, Some(state.definition_version))
            .await
        else {
            return true;
        };
        definition
            .task_index(&request.task)
            .and_then(|i| state.tasks.get(i))
            .is_some_and(|t| matches!(t.status, baton_core::TaskStatus::Running { attempt, .. } if attempt == request.attempt))
    }
}

/// Kills a job's process group if the run is dropped half-way (a runtime shutting down).
struct GroupGuard(Option<u32>);

impl GroupGuard {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            process_group::kill_group(pgid);
        }
    }
}

/// Runs one job's command to its end, its timeout, or until `stop` fires, in a process group
/// of its own, and returns once no process of that group is left. `record` is given the
/// job's process before the command starts, and the command starts only if it succeeds (the
/// worker stores it durably there).
pub async fn run_job<F, Fut>(
    request: &JobRequest,
    settings: &JobSettings,
    stop: oneshot::Receiver<Stop>,
    record: F,
) -> JobRun
where
    F: FnOnce(JobProcess) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let could_not_start = |message: String| JobRun::Ended(JobOutcome::CouldNotStart { message });
    let Some((program, args)) = request.command.split_first() else {
        return could_not_start("empty command".into());
    };
    // The directory is made with mode 0700 by one `mkdir` under a random name (another is
    // tried if the name is taken): nobody else can read the output, plant a file or a
    // symlink in its place, or write into a running job.
    let private = std::fs::Permissions::from_mode(0o700);
    let output_dir = match tempfile::Builder::new()
        .prefix("baton-job-")
        .permissions(private)
        .tempdir()
    {
        Ok(dir) => dir,
        Err(e) => return could_not_start(format!("creating the job's output directory: {e}")),
    };
    let output_file = output_dir.path().join("output.json");
    let env = job_environment(request, settings, &output_file);
    let workdir = request.workdir.as_deref().map(Path::new);
    let program_path = match resolve_program(program, variable(&env, "PATH"), workdir) {
        Ok(path) => path,
        Err(message) => return could_not_start(message),
    };
    let mut command = tokio::process::Command::new(GATE_SHELL);
    command
        .arg("-c")
        .arg(gate_script(&env))
        .arg("baton-job")
        .arg(&program_path)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = workdir {
        command.current_dir(dir);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return could_not_start(format!("{program}: {e}")),
    };
    let Some(pid) = child.id() else {
        return could_not_start(format!("{program}: the process vanished as it started"));
    };
    // The shell is the group's leader: the group's id is its pid.
    let mut group = GroupGuard(Some(pid));
    let recorded = record(JobProcess {
        pid,
        pgid: pid,
        identity: process_group::identity(pid),
    })
    .await;
    let mut stop = stop;
    let stopped_early = stop.try_recv().ok();
    if recorded.is_err() || stopped_early.is_some() {
        // Nothing of the command ran: the shell still waits on its pipe.
        process_group::kill_group(pid);
        let _ = child.wait().await;
        group.disarm();
        return match (recorded, stopped_early) {
            (Err(e), _) => could_not_start(format!("recording the job's process: {e}")),
            (Ok(()), Some(Stop::Shutdown)) => JobRun::Interrupted,
            (Ok(()), _) => could_not_start("canceled before it started".into()),
        };
    }
    if let Some(mut gate) = child.stdin.take() {
        let _ = gate.write_all(b"go\n").await;
    }
    let started = Instant::now();
    let stdout = child.stdout.take().map(|s| tokio::spawn(capture(s)));
    let stderr = child.stderr.take().map(|s| tokio::spawn(capture(s)));
    let timeout = request.timeout_ms.map(Duration::from_millis);
    let sleep = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    // A dropped sender is no stop.
    let stopped = async {
        match stop.await {
            Ok(why) => why,
            Err(_) => std::future::pending().await,
        }
    };
    enum End {
        Exited(std::io::Result<std::process::ExitStatus>),
        TimedOut,
        Stopped(Stop),
    }
    let end = tokio::select! {
        status = child.wait() => End::Exited(status),
        () = sleep => End::TimedOut,
        why = stopped => End::Stopped(why),
    };
    // Nothing of a job outlives it: what its command started and left running goes too.
    match end {
        End::Exited(_) => {
            if process_group::group_alive(pid) {
                process_group::stop_group(pid, settings.kill_grace).await;
            }
        }
        End::TimedOut | End::Stopped(_) => {
            let reap = tokio::time::timeout(
                settings.kill_grace + process_group::KILLED_WAIT,
                child.wait(),
            );
            let (_, _) = tokio::join!(process_group::stop_group(pid, settings.kill_grace), reap);
        }
    }
    group.disarm();
    // A process that left the group may hold the pipes open: wait for them only briefly.
    let grab = |h: Option<tokio::task::JoinHandle<Vec<u8>>>| async move {
        match h {
            Some(h) => tokio::time::timeout(Duration::from_secs(2), h)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => Vec::new(),
        }
    };
    let (out, err) = (grab(stdout).await, grab(stderr).await);
    let (stdout_text, stderr_text) = (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    );
    let duration_ms = started.elapsed().as_millis() as u64;
    let outcome = match end {
        End::Exited(Ok(status)) => {
            let code = status.code().unwrap_or(128 + signal_of(&status));
            let (output, note) = job_output(read_output_file(&output_file), &stdout_text);
            let mut stderr_tail = tail(&stderr_text);
            if let Some(note) = note {
                stderr_tail.push_str(&note);
            }
            JobOutcome::Exited {
                code,
                output,
                stdout_tail: tail(&stdout_text),
                stderr_tail,
                duration_ms,
            }
        }
        End::Exited(Err(e)) => JobOutcome::CouldNotStart {
            message: format!("waiting for {program}: {e}"),
        },
        End::Stopped(Stop::Shutdown) => return JobRun::Interrupted,
        End::TimedOut | End::Stopped(Stop::Cancel) => JobOutcome::TimedOut {
            after_ms: duration_ms,
            stdout_tail: tail(&stdout_text),
            stderr_tail: tail(&stderr_text),
        },
    };
    drop(output_dir);
    JobRun::Ended(outcome)
}

/// What the job's process gets: the worker's variables it may pass, the task's `env`, then
/// Baton's own (which a definition cannot override). A later entry of a name wins.
fn job_environment(
    request: &JobRequest,
    settings: &JobSettings,
    output_file: &Path,
) -> Vec<(OsString, OsString)> {
    let mut env = settings.inherited_env.clone();
    env.extend(
        request
            .env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v))),
    );
    env.extend([
        ("BATON_INSTANCE".into(), request.instance.clone().into()),
        ("BATON_TASK".into(), request.task.clone().into()),
        ("BATON_ATTEMPT".into(), request.attempt.to_string().into()),
        ("BATON_OUTPUT".into(), output_file.as_os_str().to_owned()),
    ]);
    env
}

fn variable<'a>(env: &'a [(OsString, OsString)], name: &str) -> Option<&'a OsStr> {
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_os_str())
}

/// The job's first process: it waits for the worker's go (one line on stdin, written once the
/// process is recorded), then becomes the job's command with `exec`, keeping its pid and
/// process group. If the worker dies first, the read ends and the command never runs. The
/// shell exports a few variables of its own (dash `PWD`, bash `OLDPWD` and `SHLVL` too):
/// those the job was not given are unset.
fn gate_script(env: &[(OsString, OsString)]) -> String {
    let own: Vec<&str> = ["PWD", "OLDPWD", "SHLVL"]
        .into_iter()
        .filter(|name| variable(env, name).is_none())
        .collect();
    let unset = if own.is_empty() {
        String::new()
    } else {
        format!("unset {}; ", own.join(" "))
    };
    format!("read -r _ || exit 125; {unset}exec \"$@\" </dev/null")
}

/// Finds the program as `execvp` would (a name with a `/` is a path, relative to the working
/// directory; any other is looked up in the job's `PATH`), so that a missing program is
/// reported as not started rather than by the shell that would `exec` it.
fn resolve_program(
    program: &str,
    path: Option<&OsStr>,
    workdir: Option<&Path>,
) -> Result<PathBuf, String> {
    let in_workdir = |p: &Path| match workdir {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_path_buf(),
    };
    if program.contains('/') {
        return executable(&in_workdir(Path::new(program)))
            .map(|()| PathBuf::from(program))
            .map_err(|e| format!("{program}: {e}"));
    }
    let path = path.unwrap_or(OsStr::new(DEFAULT_PATH));
    for dir in std::env::split_paths(path) {
        let candidate = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        }
        .join(program);
        if executable(&in_workdir(&candidate)).is_ok() {
            return Ok(candidate);
        }
    }
    Err(format!(
        "{program}: not found in PATH ({})",
        path.to_string_lossy()
    ))
}

fn executable(path: &Path) -> std::io::Result<()> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file",
        ));
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
    }
    Ok(())
}

fn signal_of(status: &std::process::ExitStatus) -> i32 {
    std::os::unix::process::ExitStatusExt::signal(status).unwrap_or(0)
}

async fn capture(mut pipe: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > MAX_CAPTURE {
            kept.drain(..kept.len() - MAX_CAPTURE / 2);
        }
    }
    kept
}

fn tail(text: &str) -> String {
    let count = text.chars().count();
    text.chars()
        .skip(count.saturating_sub(TAIL_CHARS))
        .collect()
}

/// The `$BATON_OUTPUT` file's text: `Ok(None)` when the job wrote none. Only a regular file of
/// at most [`MAX_OUTPUT_FILE`] bytes is read, and a symlink is not followed (opened with
/// `O_NOFOLLOW`, and `O_NONBLOCK` so that a FIFO put there cannot stall the worker).
fn read_output_file(file: &Path) -> Result<Option<String>, String> {
    let Ok(metadata) = std::fs::symlink_metadata(file) else {
        return Ok(None);
    };
    if !metadata.is_file() {
        return Err("BATON_OUTPUT must be a regular file".into());
    }
    if metadata.len() > MAX_OUTPUT_FILE {
        return Err(format!(
            "BATON_OUTPUT holds more than {MAX_OUTPUT_FILE} bytes"
        ));
    }
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(file);
    let mut text = String::new();
    match opened.and_then(|f| f.take(MAX_OUTPUT_FILE + 1).read_to_string(&mut text)) {
        Ok(n) if n as u64 > MAX_OUTPUT_FILE => Err(format!(
            "BATON_OUTPUT holds more than {MAX_OUTPUT_FILE} bytes"
        )),
        Ok(_) => Ok(Some(text)),
        Err(e) => Err(format!("BATON_OUTPUT cannot be read ({e})")),
    }
}

/// The job's JSON output: `$BATON_OUTPUT` if written, else stdout (whole, or its last line).
fn job_output(
    file: Result<Option<String>, String>,
    stdout: &str,
) -> (Option<Map<String, Value>>, Option<String>) {
    match file {
        Err(problem) => return (None, Some(format!("\n[baton] {problem}; it was ignored"))),
        Ok(Some(text)) if !text.trim().is_empty() => {
            return match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => (Some(map), None),
                Ok(_) => (
                    None,
                    Some("\n[baton] BATON_OUTPUT must hold a JSON object; it was ignored".into()),
                ),
                Err(e) => (
                    None,
                    Some(format!(
                        "\n[baton] BATON_OUTPUT is not valid JSON ({e}); it was ignored"
                    )),
                ),
            };
        }
        Ok(_) => {}
    }
    let trimmed = stdout.trim();
    let candidates = [
        Some(trimmed),
        trimmed.lines().rev().find(|l| !l.trim().is_empty()),
    ];
    for text in candidates.into_iter().flatten() {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text.trim()) {
            return (Some(map), None);
        }
    }
    (None, None)
}

#[cfg(test)]
mod tests;

/// Waits for a store notification the worker acts on: jobs queued or timers set (a commit
/// that only changed instances does not wake it). Having missed some, it assumes everything.
async fn worker_news(changes: &mut tokio::sync::broadcast::Receiver<Changed>) -> Changed {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match changes.recv().await {
            Ok(changed) if changed.jobs || changed.timers => return changed,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return Changed::ALL,
            // The store is gone: nothing will come.
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// The worker's timers in flight: due timers are fired concurrently, grouped by instance, and
/// more are read as soon as fewer than half of [`TIMER_BATCH`] are still firing, so a timer that
/// comes due while others fire waits for a slot, not for the slowest of a whole batch.
#[derive(Default)]
struct TimerPump {
    firing: JoinSet<Result<(), EngineError>>,
    /// The instance each firing task works on.
    instances: std::collections::HashMap<tokio::task::Id, String>,
    busy: std::collections::HashSet<String>,
}

impl TimerPump {
    fn busy(&self) -> bool {
        !self.firing.is_empty()
    }

    /// Reads due timers and starts firing those of instances not already firing.
    async fn top_up<S: Store>(
        &mut self,
        engine: &Engine<S>,
        scope: WorkScope<'_>,
    ) -> Result<(), EngineError> {
        if self.busy.len() >= TIMER_BATCH / 2 {
            return Ok(());
        }
        // The timers in flight are leased to this node, so the claim passes them over. Every
        // timer claimed is fired: one of an instance already firing waits for its lock.
        let due = engine
            .claim_due_timers(scope, TIMER_BATCH - self.busy.len())
            .await?;
        for (instance, group) in crate::engine::group_by_instance(due) {
            self.busy.insert(instance.clone());
            let engine = engine.clone();
            let key = instance.clone();
            let task = self
                .firing
                .spawn(async move { engine.fire_timers(&key, group).await });
            self.instances.insert(task.id(), instance);
        }
        Ok(())
    }

    /// Waits for firings to end: at least one, then until fewer than half of [`TIMER_BATCH`]
    /// still fire (so the worker wakes to read more then, not at every single end). A store
    /// error stops the worker as it would a batch.
    async fn settle(&mut self) -> Result<(), EngineError> {
        self.next().await?;
        while self.busy.len() >= TIMER_BATCH / 2 {
            self.next().await?;
        }
        Ok(())
    }

    async fn next(&mut self) -> Result<(), EngineError> {
        let Some(ended) = self.firing.join_next_with_id().await else {
            return Ok(());
        };
        let id = ended
            .as_ref()
            .map_or_else(tokio::task::JoinError::id, |(id, _)| *id);
        if let Some(instance) = self.instances.remove(&id) {
            self.busy.remove(&instance);
        }
        match ended {
            Ok((_, result)) => result,
            Err(e) => {
                tracing::error!("a timer task panicked: {e}");
                Ok(())
            }
        }
    }
}
