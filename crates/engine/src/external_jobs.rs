//! External jobs: `job` tasks with a `topic` instead of a `command`, done by workers outside
//! Baton that fetch them over the API (Camunda's external tasks, Zeebe's job workers).
//!
//! A worker fetches and locks jobs of its topics for a lock duration; it reports on each under
//! that lock (complete, fail, end) or extends it. A lock is a job attempt's queue row held by
//! one owner until an expiry. Reports are *fenced*: the step applying one commits only while,
//! in its own transaction, the attempt is still queued and locked by that owner and its lock
//! has not expired, so a worker that lost its lock (it expired, the job was canceled, the
//! attempt is over) is refused and changes nothing — never two completions of one attempt,
//! where Camunda 7 clusters apply both when a job outlives its lock. An expired lock makes the
//! job available again as a new attempt (the worker loop's sweep), and a late report of the old
//! attempt is refused the same way.

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

/// Most expired locks one sweep re-offers.
const SWEEP_BATCH: usize = 1024;

impl<S: Store> Engine<S> {
    /// Locks up to `max` queued jobs of `topics` to `owner` for `lock`. With none queued it
    /// waits up to `wait` for one: it answers as soon as a job of this process's commits is
    /// queued (woken, not polled), and looks again every second for jobs other processes queue.
    pub async fn fetch_and_lock(&self, owner: &str, topics: &[String], max: usize, lock: Duration, wait: Duration) -> Result<Vec<ClaimedJob>, EngineError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut queued = self.inner.external_queued.subscribe();
        loop {
            queued.borrow_and_update();
            let jobs = self.inner.store.lock_external_jobs(owner, topics, max, lock, self.inner.clock.now()).await?;
            if !jobs.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(jobs);
            }
            tokio::select! {
                changed = queued.changed() => if changed.is_err() { return Ok(Vec::new()) },
                () = tokio::time::sleep_until(deadline) => {}
                () = tokio::time::sleep(POLL_FALLBACK) => {}
            }
        }
    }

    /// Applies a worker's report on attempt `job`, fenced by `owner`'s lock on it: refused with
    /// a conflict, changing nothing, unless `owner` holds the lock when the step commits.
    pub async fn report_external_job(&self, job: &JobKey, owner: &str, report: WorkerReport) -> Result<Arc<Instance>, EngineError> {
        let outcome = JobOutcome::Reported { worker: owner.to_owned(), report };
        let command = Command::JobFinished { task: job.task.clone(), attempt: job.attempt, outcome };
        self.apply_cleaning(&job.instance, command, Cleanup::fenced(owner)).await
    }

    /// Moves `owner`'s lock on attempt `job` to `lock` from now; refused with a conflict when
    /// `owner` does not hold it. Returns the new expiry.
    pub async fn extend_lock(&self, job: &JobKey, owner: &str, lock: Duration) -> Result<chrono::DateTime<chrono::Utc>, EngineError> {
        let now = self.inner.clock.now();
        let until = baton_core::timestamp::after(now, lock);
        if self.inner.store.extend_lock(job, owner, until, now).await? {
            Ok(until)
        } else {
            Err(StoreError::LockNotHeld { job: job.to_string(), owner: owner.to_owned() }.into())
        }
    }

    /// Offers again, each as a new attempt, the external jobs whose lock expired by now.
    /// Returns how many were re-offered.
    pub async fn expire_locks(&self) -> Result<usize, EngineError> {
        let expired = self.inner.store.expired_locks(self.inner.clock.now(), SWEEP_BATCH).await?;
        let mut offered = 0;
        for (key, owner) in expired {
            tracing::info!(instance = %key.instance, task = %key.task, attempt = key.attempt, worker = %owner, "the lock on an external job expired; offering it again");
            let command = Command::JobLockExpired { task: key.task.clone(), attempt: key.attempt, worker: owner };
            match self.apply(&key.instance, command).await {
                Ok(_) => offered += 1,
                // The attempt ended meanwhile (its report won the race); its row went with it.
                Err(EngineError::Transition(e)) => tracing::debug!(instance = %key.instance, task = %key.task, "expired lock not re-offered: {e}"),
                Err(EngineError::IncidentRaised { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(offered)
    }
}
