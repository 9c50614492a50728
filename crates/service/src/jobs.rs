//! The job queue at a glance, and whether a worker has anything left to do.

use baton_api_model as api;
use baton_core::InstanceStatus;

use crate::{view, Result, Service, ServiceStore};

/// How many open incidents [`Service::idle`] looks at to find running instances stuck on one.
const STUCK_SCAN: usize = 10_000;

impl<S: ServiceStore> Service<S> {
    /// Jobs waiting for a worker, and those a worker took and has not finished.
    pub async fn jobs(&self, user: &str) -> Result<api::Jobs> {
        self.authenticate(user).await?;
        let queued = self.engine.store().queued_jobs().await?;
        let leased = self.engine.store().leased_jobs().await?.iter().map(view::job).collect();
        let depths = self.engine.store().queue_depths(self.engine.now()).await?;
        let external = depths.jobs.into_iter().filter(|t| !t.topic.is_empty()).map(|t| api::TopicJobs { topic: t.topic, queued: t.queued, locked: t.leased }).collect();
        Ok(api::Jobs { queued, leased, external })
    }

    /// Has a worker nothing left to do? True when no instance is open, or when no job is
    /// queued or out and every open instance waits, is blocked, or is running only in name
    /// because an open incident holds it (nothing moves it until someone acts on that).
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
        Ok(open.running <= self.stuck_running().await?)
    }

    /// Running instances with an open incident.
    async fn stuck_running(&self) -> Result<usize> {
        let incidents = self.engine.store().open_incidents(STUCK_SCAN).await?;
        let mut instances: Vec<&str> = incidents.iter().map(|i| i.instance.as_str()).collect();
        instances.sort_unstable();
        instances.dedup();
        let mut stuck = 0;
        for id in instances {
            if self.engine.instance(id).await.is_ok_and(|i| i.status == InstanceStatus::Running) {
                stuck += 1;
            }
        }
        Ok(stuck)
    }
}
