//! External jobs: `job` tasks with a `topic` instead of a `command`, done by workers outside
//! Baton that fetch them over the API (Camunda's external tasks, Zeebe's job workers).
//!
//! A worker fetches and locks jobs of its topics for a lock duration; it reports on each under
//! that lock (complete, fail, end) or extends it. A lock is a job attempt's queue row held by
//! one owner until an expiry. Reports are *fenced*: the step applying one commits only while,
//! in its own transaction, the attempt is still queued and locked by that owner and its lock
//! has not expired, so a worker that lost its lock (it expired, the job was canceled, the
//! attempt is over) is refused and changes nothing — never two completions of one attempt,
//! where Camunda 7 clusters apply both when a job outlives its lock. A lock is the same lease a
//! node holds on a job Baton's worker runs: an expired one is taken over by a node (the worker
//! loop's sweep), which makes the job available again as a new attempt, and a late report of the
//! old attempt is refused the same way.

use std::sync::Arc;
use std::time::Duration;

use baton_core::{Command, Instance, JobOutcome, WorkerReport};
use baton_store::{ClaimedJob, JobKey, StoreError};

use crate::engine::{Cleanup, Engine};
use crate::error::EngineError;
use baton_store::Store;

/// How often a long-poll looks at the queue besides being woken: for jobs queued by another
/// process on the same database, whose commits do not wake this one.
const POLL_FALLBACK: Duration = Duration::from_secs(1);

/// Most expired leases one sweep takes over.
const SWEEP_BATCH: usize = 1024;

/// How long a node holds a lease it took over while it ends the attempt (one step).
const TAKEOVER_LEASE: Duration = Duration::from_secs(60);

impl<S: Store> Engine<S> {
    /// Locks up to `max` queued jobs of `topics` to `owner` for `lock`. With none queued it
    /// waits up to `wait` for one: it answers as soon as a job of this process's commits is
    /// queued (woken, not polled), and looks again every second for jobs other processes queue.
    pub async fn fetch_and_lock(
        &self,
        owner: &str,
        topics: &[String],
        max: usize,
        lock: Duration,
        wait: Duration,
    ) -> Result<Vec<ClaimedJob>, EngineError> {
        let deadline = tokio::time::Instant::now() + wait;
        // Subscribed before the first look: a job queued after it wakes this poll.
        let mut changes = self.inner.store.subscribe_changes();
        loop {
            let jobs = self
                .inner
                .store
                .lock_external_jobs(owner, topics, max, lock, self.inner.clock.now())
                .await?;
            if !jobs.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(jobs);
            }
            tokio::select! {
                () = external_jobs_queued(&mut changes) => {}
                () = tokio::time::sleep_until(deadline) => {}
                () = tokio::time::sleep(POLL_FALLBACK) => {}
            }
        }
    }

    /// Applies a worker's report on attempt `job`, fenced by `owner`'s lock on it: refused with
    /// a conflict, changing nothing, unless `owner` holds the lock when the step commits.
    pub async fn report_external_job(
        &self,
        job: &JobKey,
        owner: &str,
        report: WorkerReport,
    ) -> Result<Arc<Instance>, EngineError> {
        let outcome = JobOutcome::Reported {
            worker: owner.to_owned(),
            report,
        };
        let command = Command::JobFinished {
            task: job.task.clone(),
            attempt: job.attempt,
            outcome,
        };
        self.apply_cleaning(&job.instance, command, Cleanup::fenced(owner, None))
            .await
    }

    /// Moves `owner`'s lock on attempt `job` to `lock` from now; refused with a conflict when
    /// `owner` does not hold it. Returns the new expiry.
    pub async fn extend_lock(
        &self,
        job: &JobKey,
        owner: &str,
        lock: Duration,
    ) -> Result<chrono::DateTime<chrono::Utc>, EngineError> {
        let now = self.inner.clock.now();
        let until = baton_core::timestamp::after(now, lock);
        if self.inner.store.extend_lock(job, owner, until, now).await? {
            Ok(until)
        } else {
            Err(StoreError::LockNotHeld {
                job: job.to_string(),
                owner: owner.to_owned(),
            }
            .into())
        }
    }

    /// Takes over the leases that expired by now, of both kinds of job, and ends each attempt
    /// so that the job is offered again as a new attempt (recorded in history): a job of
    /// Baton's worker whose node died or stalled runs again, an external job whose worker's
    /// lock expired is offered to workers again. Each step is fenced by the lease taken over,
    /// so of several nodes sweeping at once one ends each attempt, and a late result under the
    /// expired lease is refused.
    pub async fn take_over_expired_leases(&self) -> Result<TakenOver, EngineError> {
        let node = &self.inner.options.node;
        let expired = self
            .inner
            .store
            .take_over_expired(node, SWEEP_BATCH, TAKEOVER_LEASE, self.inner.clock.now())
            .await?;
        let mut taken = TakenOver::default();
        for lease in expired {
            let (key, owner) = (&lease.job, lease.previous_owner);
            let command = if lease.external {
                tracing::info!(instance = %key.instance, task = %key.task, attempt = key.attempt, worker = %owner, "the lock on an external job expired; offering it again");
                Command::JobLockExpired {
                    task: key.task.clone(),
                    attempt: key.attempt,
                    worker: owner,
                }
            } else {
                tracing::info!(instance = %key.instance, task = %key.task, attempt = key.attempt, node = %owner, "the lease of a job expired; running it again");
                Command::RedispatchJob {
                    task: key.task.clone(),
                    attempt: key.attempt,
                }
            };
            match self
                .apply_cleaning(
                    &key.instance,
                    command,
                    Cleanup::fenced(node, Some(lease.lease)),
                )
                .await
            {
                Ok(_) if lease.external => taken.reoffered += 1,
                Ok(_) => taken.rerun += 1,
                // The attempt ended meanwhile (its result won the race); its row went with it.
                Err(EngineError::Transition(e)) => {
                    tracing::debug!(instance = %key.instance, task = %key.task, "expired lease not taken over: {e}")
                }
                Err(EngineError::IncidentRaised { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.deliver_to_fresh_subscriptions().await;
        Ok(taken)
    }
}

/// What [`Engine::take_over_expired_leases`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TakenOver {
    /// Jobs of Baton's worker queued again as a new attempt.
    pub rerun: usize,
    /// External jobs offered again to workers as a new attempt.
    pub reoffered: usize,
}

/// Waits for a store notification that external jobs were queued (having missed some, it
/// assumes so).
async fn external_jobs_queued(
    changes: &mut tokio::sync::broadcast::Receiver<baton_store::Changed>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match changes.recv().await {
            Ok(changed) if changed.external_jobs => return,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return,
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}
