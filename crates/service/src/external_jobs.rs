//! External jobs as the service offers them: workers outside Baton fetch and lock jobs by
//! topic, then report on each under its lock (see the engine's `external_jobs` for the
//! fencing). Here: who may work them, and the documented bounds of every request.
//!
//! Working external jobs is a role: administrators and members of the group
//! [`WORKERS_GROUP`] have it. A worker names itself with a worker id; its lock is held by the
//! pair of its user and that id, so one user's workers never report under another's locks.

use std::time::Duration;

use baton_api_model as api;
use baton_core::definition::{topic_problem, wire_name_problem};
use baton_core::user_task::Caller;
use baton_core::WorkerReport;
use baton_store::{ClaimedJob, JobKey};

use crate::{Result, Service, ServiceError, ServiceStore};

/// The group whose members may fetch and report on external jobs (besides administrators).
pub const WORKERS_GROUP: &str = "workers";
/// Most jobs one fetch locks.
pub const MAX_FETCH: usize = 1_000;
/// Most topics one fetch names.
pub const MAX_TOPICS: usize = 100;
/// Shortest and longest lock a worker may take or extend to.
pub const MIN_LOCK: Duration = Duration::from_secs(1);
pub const MAX_LOCK: Duration = Duration::from_secs(24 * 3600);
/// Longest a fetch waits for a job (a long poll).
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// Longest message a worker's failure or end may carry.
pub const MAX_MESSAGE: usize = 8 * 1024;
/// Longest wait before a retry a worker may ask for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);

/// What a worker asks for when it fetches.
#[derive(Debug, Clone)]
pub struct FetchJobs {
    pub worker: String,
    pub topics: Vec<String>,
    pub max_jobs: usize,
    pub lock: Duration,
    pub wait: Duration,
}

impl<S: ServiceStore> Service<S> {
    /// Locks up to `max_jobs` queued jobs of `topics` to the worker, waiting up to `wait` for
    /// one when none is queued.
    pub async fn fetch_and_lock(
        &self,
        user: &str,
        fetch: FetchJobs,
    ) -> Result<Vec<api::ExternalJob>> {
        let caller = self.require_worker(user).await?;
        let owner = owner(&caller, &fetch.worker)?;
        if fetch.topics.is_empty() || fetch.topics.len() > MAX_TOPICS {
            return Err(ServiceError::OutOfBounds {
                what: "the number of topics",
                value: fetch.topics.len(),
                max: MAX_TOPICS,
            });
        }
        if let Some((topic, problem)) = fetch
            .topics
            .iter()
            .find_map(|t| topic_problem(t).map(|p| (t, p)))
        {
            return Err(ServiceError::InvalidRequest {
                field: "topics",
                problem: format!("`{}`: {problem}", topic.escape_default()),
            });
        }
        if fetch.max_jobs == 0 || fetch.max_jobs > MAX_FETCH {
            return Err(ServiceError::OutOfBounds {
                what: "max_jobs",
                value: fetch.max_jobs,
                max: MAX_FETCH,
            });
        }
        check_lock("lock_duration_ms", fetch.lock)?;
        if fetch.wait > MAX_WAIT {
            return Err(ServiceError::InvalidRequest {
                field: "timeout_ms",
                problem: format!("a fetch waits at most {} ms", MAX_WAIT.as_millis()),
            });
        }
        let jobs = self
            .engine
            .fetch_and_lock(
                &owner,
                &fetch.topics,
                fetch.max_jobs,
                fetch.lock,
                fetch.wait,
            )
            .await?;
        Ok(jobs
            .iter()
            .map(|job| external_job(job, &fetch.worker))
            .collect())
    }

    /// Applies a worker's report on a job attempt it holds the lock of; refused as a conflict,
    /// changing nothing, when it does not hold it (any more).
    pub async fn report_external_job(
        &self,
        user: &str,
        job: &JobKey,
        worker: &str,
        report: WorkerReport,
    ) -> Result<api::Instance> {
        let caller = self.require_worker(user).await?;
        let owner = owner(&caller, worker)?;
        match &report {
            WorkerReport::Failed {
                message,
                retry_after_ms,
                ..
            } => {
                check_message(Some(message))?;
                if retry_after_ms.is_some_and(|ms| Duration::from_millis(ms) > MAX_RETRY_AFTER) {
                    return Err(ServiceError::InvalidRequest {
                        field: "retry_after_ms",
                        problem: format!("at most {} ms", MAX_RETRY_AFTER.as_millis()),
                    });
                }
            }
            WorkerReport::Ended { message, .. } => check_message(message.as_ref())?,
            WorkerReport::Completed {
                output: Some(output),
            } => self.check_documents_in(user, output).await?,
            WorkerReport::Completed { .. } => {}
        }
        let instance = self.engine.report_external_job(job, &owner, report).await?;
        self.view_of(&instance).await
    }

    /// Extends the worker's lock on a job attempt to `lock` from now.
    pub async fn extend_lock(
        &self,
        user: &str,
        job: &JobKey,
        worker: &str,
        lock: Duration,
    ) -> Result<api::JobLock> {
        let caller = self.require_worker(user).await?;
        let owner = owner(&caller, worker)?;
        check_lock("duration_ms", lock)?;
        let until = self.engine.extend_lock(job, &owner, lock).await?;
        Ok(api::JobLock {
            instance: job.instance.clone(),
            task: job.task.clone(),
            attempt: job.attempt,
            worker: worker.to_owned(),
            lock_expires_at: until,
        })
    }

    /// Refuses `user` unless they may work external jobs (see the module's documentation).
    async fn require_worker(&self, user: &str) -> Result<Caller> {
        let caller = self.authenticate(user).await?;
        if self.local || caller.admin || caller.groups.contains(WORKERS_GROUP) {
            Ok(caller)
        } else {
            Err(ServiceError::NotAWorker { user: caller.user })
        }
    }
}

/// Who holds a worker's locks: its user and its id.
fn owner(caller: &Caller, worker: &str) -> Result<String> {
    if let Some(problem) = wire_name_problem("worker id", worker) {
        return Err(ServiceError::InvalidRequest {
            field: "worker_id",
            problem,
        });
    }
    Ok(format!("{}/{worker}", caller.user))
}

fn check_lock(field: &'static str, lock: Duration) -> Result<()> {
    if lock < MIN_LOCK || lock > MAX_LOCK {
        return Err(ServiceError::InvalidRequest {
            field,
            problem: format!(
                "a lock lasts from {} to {} ms",
                MIN_LOCK.as_millis(),
                MAX_LOCK.as_millis()
            ),
        });
    }
    Ok(())
}

fn check_message(message: Option<&String>) -> Result<()> {
    match message {
        Some(m) if m.len() > MAX_MESSAGE => Err(ServiceError::InvalidRequest {
            field: "message",
            problem: format!("at most {MAX_MESSAGE} bytes"),
        }),
        _ => Ok(()),
    }
}

fn external_job(job: &ClaimedJob, worker: &str) -> api::ExternalJob {
    let request = &job.request;
    api::ExternalJob {
        instance: request.instance.clone(),
        task: request.task.clone(),
        attempt: request.attempt,
        topic: request.topic.clone().unwrap_or_default(),
        data: request.data.clone(),
        env: request.env.iter().cloned().collect(),
        worker: worker.to_owned(),
        lock_expires_at: job.lease_until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workers_locks_are_held_by_its_user_and_its_id() {
        let caller = Caller::new("bot");
        assert_eq!(owner(&caller, "w-1").unwrap(), "bot/w-1");
        assert!(owner(&caller, "a/b").is_err());
        assert!(owner(&caller, "").is_err());
    }
}
