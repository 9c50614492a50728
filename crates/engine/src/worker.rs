//! The built-in job runner: fires due durable timers, leases queued jobs and runs their
//! commands as child processes.
//!
//! A job's process gets its task's `env` (computed from process data) plus `BATON_INSTANCE`,
//! `BATON_TASK`, `BATON_ATTEMPT` and `BATON_OUTPUT` (a file it may write a JSON object to).
//! A JSON object printed on stdout (all of it, or its last line) is taken as output too.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use baton_core::{Command, JobOutcome, JobRequest};
use baton_store::{JobKey, Store};

use crate::engine::Engine;
use crate::error::EngineError;

/// Most timers the worker fires at once (their steps share group commits). It reads more due
/// timers whenever fewer than half of that are still firing, without waiting for the rest.
const TIMER_BATCH: usize = 2048;

/// How much of a job's stdout and stderr is kept in history.
const TAIL_CHARS: usize = 2000;
/// Largest stdout read for JSON output; beyond it only the tail is kept.
const MAX_CAPTURE: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs run at once by this worker.
    pub concurrency: usize,
    /// How often the queue is polled for jobs queued by other processes.
    pub poll_interval: Duration,
    /// How long a lease lasts before another node may take the job (multi-node stores).
    pub lease: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self { concurrency: 8, poll_interval: Duration::from_millis(200), lease: Duration::from_secs(300) }
    }
}

impl<S: Store> Engine<S> {
    /// Leases and runs jobs until `stop` resolves. Running jobs are awaited before returning.
    pub async fn run_worker(&self, options: WorkerOptions, stop: impl std::future::Future<Output = ()>) -> Result<(), EngineError> {
        tokio::pin!(stop);
        let mut running: JoinSet<()> = JoinSet::new();
        let mut timers = TimerPump::default();
        // Whether to look at the job queue on this pass: at first, when this process queued a
        // job, when the queue was left full, and every poll interval (jobs of other processes).
        // Not on every pass: a pass per fired timer would make a write of each look.
        let mut look = true;
        let mut last_look = Instant::now();
        loop {
            // Durable timers first: a due timer may queue a job.
            timers.top_up(self).await?;
            let free = options.concurrency.saturating_sub(running.len());
            look |= self.inner.jobs_dirty.swap(false, std::sync::atomic::Ordering::SeqCst) || last_look.elapsed() >= options.poll_interval;
            if free > 0 && look {
                let now = self.inner.clock.now();
                let jobs = self.inner.store.claim_jobs(&self.inner.options.node, free, options.lease, now).await?;
                // A full claim may have left more behind: look again once a slot frees up.
                look = jobs.len() == free;
                last_look = Instant::now();
                for job in jobs {
                    let engine = self.clone();
                    running.spawn(async move { engine.execute(job.request).await });
                }
            }
            // Sleep until new work, the next timer, or the next look at the queue, whichever
            // comes first. While timers fire, the next due one is likely one of them: a firing
            // that ends wakes the loop instead.
            let mut nap = options.poll_interval.saturating_sub(last_look.elapsed());
            if !timers.busy() {
                if let Some(due) = self.inner.store.next_timer_due().await? {
                    let until = (due - self.inner.clock.now()).to_std().unwrap_or_default();
                    nap = nap.min(until);
                }
            }
            tokio::select! {
                () = self.inner.jobs_queued.notified() => look = true,
                () = self.inner.timers_set.notified() => {}
                _ = running.join_next(), if !running.is_empty() => {}
                fired = timers.settle(), if timers.busy() => fired?,
                () = tokio::time::sleep(nap) => {}
                () = &mut stop => break,
            }
        }
        while running.join_next().await.is_some() {}
        while timers.busy() {
            timers.next().await?;
        }
        Ok(())
    }

    async fn execute(&self, request: JobRequest) {
        let key = JobKey::of(&request);
        let (stop_tx, stop_rx) = oneshot::channel();
        self.inner.running.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone(), stop_tx);
        // A step between the claim and the line above (an abort, a max-runtime cancel) could not
        // find this job to stop it; from here on a cancel reaches it. So check once that the
        // attempt is still wanted before running anything.
        let wanted = self.attempt_is_running(&request).await;
        if !wanted {
            self.inner.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
            tracing::info!(instance = %request.instance, task = %request.task, attempt = request.attempt, "job no longer wanted; not run");
            return;
        }
        tracing::debug!(instance = %request.instance, task = %request.task, attempt = request.attempt, "running job");
        let outcome = run_job(&request, stop_rx).await;
        self.inner.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
        let command = Command::JobFinished { task: request.task.clone(), attempt: request.attempt, outcome };
        if let Err(e) = self.apply(&request.instance, command).await {
            tracing::info!(instance = %request.instance, task = %request.task, "job result not applied: {e}");
        }
    }
}

impl<S: Store> Engine<S> {
    /// Is this job attempt still the running attempt of its task?
    async fn attempt_is_running(&self, request: &JobRequest) -> bool {
        let Ok(state) = self.instance(&request.instance).await else { return false };
        let Ok(definition) = self.definition(&state.definition_id, Some(state.definition_version)).await else { return false };
        definition
            .task_index(&request.task)
            .and_then(|i| state.tasks.get(i))
            .is_some_and(|t| matches!(t.status, baton_core::TaskStatus::Running { attempt, .. } if attempt == request.attempt))
    }
}

/// Runs one job's command to its end, its timeout, or until `stop` fires.
pub async fn run_job(request: &JobRequest, stop: oneshot::Receiver<()>) -> JobOutcome {
    let output_file = std::env::temp_dir().join(format!("baton-output-{}-{}-{}.json", request.instance, request.task, request.attempt));
    let _ = std::fs::remove_file(&output_file);
    let Some((program, args)) = request.command.split_first() else {
        return JobOutcome::CouldNotStart { message: "empty command".into() };
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .envs(request.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("BATON_INSTANCE", &request.instance)
        .env("BATON_TASK", &request.task)
        .env("BATON_ATTEMPT", request.attempt.to_string())
        .env("BATON_OUTPUT", &output_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = &request.workdir {
        command.current_dir(dir);
    }
    let started = Instant::now();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return JobOutcome::CouldNotStart { message: format!("{program}: {e}") },
    };
    let stdout = child.stdout.take().map(|s| tokio::spawn(capture(s)));
    let stderr = child.stderr.take().map(|s| tokio::spawn(capture(s)));
    let timeout = request.timeout_ms.map(Duration::from_millis);
    let sleep = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    enum End {
        Exited(std::io::Result<std::process::ExitStatus>),
        TimedOut,
        Stopped,
    }
    let end = tokio::select! {
        status = child.wait() => End::Exited(status),
        () = sleep => End::TimedOut,
        _ = stop => End::Stopped,
    };
    if !matches!(end, End::Exited(_)) {
        let _ = child.kill().await;
    }
    // A grandchild may hold the pipes open after a kill: wait for them only briefly.
    let grab = |h: Option<tokio::task::JoinHandle<Vec<u8>>>| async move {
        match h {
            Some(h) => tokio::time::timeout(Duration::from_secs(2), h).await.ok().and_then(Result::ok).unwrap_or_default(),
            None => Vec::new(),
        }
    };
    let (out, err) = (grab(stdout).await, grab(stderr).await);
    let (stdout_text, stderr_text) = (String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned());
    let duration_ms = started.elapsed().as_millis() as u64;
    let outcome = match end {
        End::Exited(Ok(status)) => {
            let code = status.code().unwrap_or(128 + signal_of(&status));
            let (output, note) = job_output(&output_file, &stdout_text);
            let mut stderr_tail = tail(&stderr_text);
            if let Some(note) = note {
                stderr_tail.push_str(&note);
            }
            JobOutcome::Exited { code, output, stdout_tail: tail(&stdout_text), stderr_tail, duration_ms }
        }
        End::Exited(Err(e)) => JobOutcome::CouldNotStart { message: format!("waiting for {program}: {e}") },
        End::TimedOut | End::Stopped => JobOutcome::TimedOut { after_ms: duration_ms, stdout_tail: tail(&stdout_text), stderr_tail: tail(&stderr_text) },
    };
    let _ = std::fs::remove_file(&output_file);
    outcome
}

#[cfg(unix)]
fn signal_of(status: &std::process::ExitStatus) -> i32 {
    std::os::unix::process::ExitStatusExt::signal(status).unwrap_or(0)
}

#[cfg(not(unix))]
fn signal_of(_: &std::process::ExitStatus) -> i32 {
    0
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
    text.chars().skip(count.saturating_sub(TAIL_CHARS)).collect()
}

/// The job's JSON output: `$BATON_OUTPUT` if written, else stdout (whole, or its last line).
fn job_output(file: &std::path::Path, stdout: &str) -> (Option<Map<String, Value>>, Option<String>) {
    if let Ok(text) = std::fs::read_to_string(file) {
        if !text.trim().is_empty() {
            return match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => (Some(map), None),
                Ok(_) => (None, Some("\n[baton] BATON_OUTPUT must hold a JSON object; it was ignored".into())),
                Err(e) => (None, Some(format!("\n[baton] BATON_OUTPUT is not valid JSON ({e}); it was ignored"))),
            };
        }
    }
    let trimmed = stdout.trim();
    let candidates = [Some(trimmed), trimmed.lines().rev().find(|l| !l.trim().is_empty())];
    for text in candidates.into_iter().flatten() {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text.trim()) {
            return (Some(map), None);
        }
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(command: &[&str]) -> JobRequest {
        JobRequest {
            instance: format!("t-{}", uuid::Uuid::now_v7()),
            task: "job".into(),
            attempt: 1,
            command: command.iter().map(|s| s.to_string()).collect(),
            workdir: None,
            env: vec![("GREETING".into(), "hello".into())],
            timeout_ms: Some(5_000),
        }
    }

    async fn run(command: &[&str]) -> JobOutcome {
        run_job(&request(command), oneshot::channel().1).await
    }

    #[tokio::test]
    async fn exit_zero_with_a_json_line_on_stdout_gives_output() {
        let JobOutcome::Exited { code, output, .. } = run(&["sh", "-c", "echo working; echo '{\"rows\": 3}'"]).await else { panic!() };
        assert_eq!(code, 0);
        assert_eq!(output.unwrap()["rows"], 3);
    }

    #[tokio::test]
    async fn output_written_to_baton_output_wins_and_env_is_passed() {
        let JobOutcome::Exited { output, .. } = run(&["sh", "-c", "echo \"{\\\"said\\\": \\\"$GREETING\\\"}\" > \"$BATON_OUTPUT\"; echo '{\"x\": 1}'"]).await else {
            panic!()
        };
        assert_eq!(output.unwrap()["said"], "hello");
    }

    #[tokio::test]
    async fn nonzero_exit_keeps_the_stderr_tail() {
        let JobOutcome::Exited { code, stderr_tail, .. } = run(&["sh", "-c", "echo broken >&2; exit 3"]).await else { panic!() };
        assert_eq!(code, 3);
        assert_eq!(stderr_tail.trim(), "broken");
    }

    #[tokio::test]
    async fn a_job_past_its_timeout_is_stopped() {
        let mut r = request(&["sleep", "5"]);
        r.timeout_ms = Some(100);
        assert!(matches!(run_job(&r, oneshot::channel().1).await, JobOutcome::TimedOut { .. }));
    }

    #[tokio::test]
    async fn a_missing_program_could_not_start() {
        assert!(matches!(run(&["/no/such/program"]).await, JobOutcome::CouldNotStart { .. }));
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
    async fn top_up<S: Store>(&mut self, engine: &Engine<S>) -> Result<(), EngineError> {
        if self.busy.len() >= TIMER_BATCH / 2 {
            return Ok(());
        }
        // The timers in flight are still stored (each goes with its step), and are the
        // earliest due: read past them.
        let due = engine.inner.store.due_timers(engine.inner.clock.now(), TIMER_BATCH + self.busy.len()).await?;
        for (instance, group) in crate::engine::group_by_instance(due) {
            if self.busy.len() >= TIMER_BATCH || !self.busy.insert(instance.clone()) {
                continue;
            }
            let engine = engine.clone();
            let key = instance.clone();
            let task = self.firing.spawn(async move { engine.fire_timers(&key, group).await });
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
        let Some(ended) = self.firing.join_next_with_id().await else { return Ok(()) };
        let id = ended.as_ref().map_or_else(tokio::task::JoinError::id, |(id, _)| *id);
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
