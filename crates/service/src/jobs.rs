//! The job queue at a glance, and whether a worker has anything left to do.

use baton_api_model as api;
use baton_core::{Instance, InstanceStatus, TaskStatus};
use baton_store::InstanceQuery;

use crate::{view, Result, Service, ServiceStore};

/// How many open incidents, and how many running instances, [`Service::idle`] looks at to find
/// running instances with nothing to do.
const SCAN: usize = 10_000;

impl<S: ServiceStore> Service<S> {
    /// Jobs waiting for a worker, and those a worker took and has not finished.
    pub async fn jobs(&self, user: &str) -> Result<api::Jobs> {
        self.authenticate(user).await?;
        let queued = self.engine.store().queued_jobs().await?;
        let leased = self
            .engine
            .store()
            .leased_jobs()
            .await?
            .iter()
            .map(view::job)
            .collect();
        let depths = self.engine.store().queue_depths(self.engine.now()).await?;
        let external = depths
            .jobs
            .into_iter()
            .filter(|t| !t.topic.is_empty())
            .map(|t| api::TopicJobs {
                topic: t.topic,
                queued: t.queued,
                locked: t.leased,
            })
            .collect();
        Ok(api::Jobs {
            queued,
            leased,
            external,
        })
    }

    /// Has a worker nothing left to do? True when no instance is open, or when no job is
    /// queued or out and every open instance waits, is blocked, or is running only in name:
    /// an open incident holds it (nothing moves it until someone acts on that), or it runs
    /// nothing but sub-processes (`call` and ForEach tasks waiting for their children, which
    /// are open instances of their own) and no end of one is due to reach it. An instance
    /// with a task that time alone moves on (its earliest start, a retry's delay) is work left
    /// to do: the worker waits for that time. One that waits for a person, an event or a
    /// precondition (which only a change of data makes hold) is not.
    /// The worker's own question (`baton worker --until-idle`), asked by no user.
    pub async fn idle(&self) -> Result<bool> {
        let store = self.engine.store();
        let open = store.open_counts().await?;
        if open.total() == 0 {
            return Ok(true);
        }
        if store.queued_jobs().await? > 0 || !store.leased_jobs().await?.is_empty() {
            return Ok(false);
        }
        if self.waiting_on_time().await? {
            return Ok(false);
        }
        Ok(open.running == 0 || open.running <= self.running_in_name().await?)
    }

    /// Does one of the first [`SCAN`] waiting or running instances have a task that waits for
    /// a time?
    async fn waiting_on_time(&self) -> Result<bool> {
        for status in [InstanceStatus::Waiting, InstanceStatus::Running] {
            let rows = self
                .engine
                .store()
                .list_instances(&InstanceQuery {
                    status: Some(status),
                    limit: SCAN,
                    ..InstanceQuery::default()
                })
                .await?;
            for row in rows {
                let Ok(state) = self.engine.instance(&row.id).await else {
                    continue;
                };
                let timed = |t: &baton_core::TaskState| {
                    matches!(
                        t.status,
                        TaskStatus::WaitingForStartTime { .. } | TaskStatus::WaitingForRetry { .. }
                    )
                };
                if state.tasks.iter().any(timed) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Running instances that give a worker nothing to do (see [`Self::idle`]), of the first
    /// [`SCAN`] running ones.
    async fn running_in_name(&self) -> Result<usize> {
        let store = self.engine.store();
        let mut stuck: Vec<String> = store
            .open_incidents(SCAN)
            .await?
            .into_iter()
            .map(|i| i.instance)
            .collect();
        stuck.sort_unstable();
        stuck.dedup();
        let running = store
            .list_instances(&InstanceQuery {
                status: Some(InstanceStatus::Running),
                limit: SCAN,
                ..InstanceQuery::default()
            })
            .await?;
        let now = self.engine.now();
        let mut idle = 0;
        for row in running {
            if stuck.binary_search(&row.id).is_ok() {
                idle += 1;
                continue;
            }
            // One that cannot be read is taken for work left to do.
            let Ok(state) = self.engine.instance(&row.id).await else {
                continue;
            };
            // A child's end reaches its parent through a timer due at once.
            if runs_only_children(&state) && store.due_timers_of(&row.id, now, 1).await?.is_empty()
            {
                idle += 1;
            }
        }
        Ok(idle)
    }
}

/// Is every running task of `state` a `call` or ForEach task waiting for its children?
fn runs_only_children(state: &Instance) -> bool {
    state.tasks.iter().all(|t| {
        !matches!(t.status, TaskStatus::Running { .. }) || t.child.is_some() || t.foreach.is_some()
    })
}
