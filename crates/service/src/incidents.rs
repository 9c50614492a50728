//! Incidents: listing them, retrying one's step, resolving one by hand.

use baton_api_model as api;

use crate::instances::check_limit;
use crate::{view, Result, Service, ServiceStore};

impl<S: ServiceStore> Service<S> {
    /// Open incidents of every instance, oldest first, at most `limit` (1 to [`crate::MAX_LIMIT`]).
    pub async fn open_incidents(&self, user: &str, limit: usize) -> Result<Vec<api::Incident>> {
        let viewer = self.viewer(user).await?;
        check_limit(limit)?;
        Ok(self
            .engine
            .store()
            .open_incidents_in(&viewer.scope, limit)
            .await?
            .iter()
            .map(view::incident)
            .collect())
    }

    /// Every incident of an instance, open or closed, oldest first.
    pub async fn incidents(&self, user: &str, instance: &str) -> Result<Vec<api::Incident>> {
        self.visible_to(user, instance).await?;
        Ok(self
            .engine
            .store()
            .incidents(instance)
            .await?
            .iter()
            .map(view::incident)
            .collect())
    }

    /// Applies an open incident's step again; applied, the incident is closed.
    pub async fn retry_incident(&self, user: &str, id: i64) -> Result<api::Instance> {
        self.incident_visible_to(user, id).await?;
        let state = self.engine.retry_incident(id, user).await?;
        self.view_of(&state).await
    }

    /// Closes an open incident without applying its step.
    pub async fn resolve_incident(&self, user: &str, id: i64) -> Result<api::Incident> {
        self.incident_visible_to(user, id).await?;
        Ok(view::incident(
            &self.engine.resolve_incident(id, user).await?,
        ))
    }

    /// Refuses an incident of an instance out of the user's scope (an unknown incident is the
    /// engine's to refuse).
    async fn incident_visible_to(&self, user: &str, id: i64) -> Result<()> {
        let viewer = self.viewer(user).await?;
        if let Some(incident) = self.engine.store().incident(id).await? {
            self.visible(&viewer, &incident.instance).await?;
        }
        Ok(())
    }
}
