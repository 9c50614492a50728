//! Publishing events to `wait` tasks, for a user (Siebel's implicit resumption; the engine's
//! `correlation` module says what happens to an event). Who may publish: administrators and
//! members of group [`EVENT_PUBLISHERS_GROUP`] (and whoever holds the database file: the local
//! command line), since an event resumes other people's instances and writes their data.

use std::time::Duration;

use baton_api_model as api;
use baton_api_model::requests::PublishEvent;
use baton_engine::correlation::{Publication, Published};
use baton_store::EventState;

use crate::{Result, Service, ServiceError, ServiceStore};

/// The group whose members may publish events.
pub const EVENT_PUBLISHERS_GROUP: &str = "event-publishers";

impl<S: ServiceStore> Service<S> {
    /// Publishes an event as `user`: see the module's documentation for who may.
    pub async fn publish_event(
        &self,
        user: &str,
        request: PublishEvent,
    ) -> Result<api::PublishedEvent> {
        let caller = self.authenticate(user).await?;
        if !(self.local || caller.admin || caller.groups.contains(EVENT_PUBLISHERS_GROUP)) {
            return Err(ServiceError::NotAPublisher { user: caller.user });
        }
        // A `wait` task's output mapping may copy the payload's document references into
        // data: naming a document there takes being allowed to read it, as in any data given.
        self.check_documents_in(user, &request.data).await?;
        let publication = Publication {
            name: request.name,
            key: request.key,
            data: request.data,
            id: request.id,
            ttl: request.ttl_ms.map(Duration::from_millis),
        };
        let published = self.engine.publish(publication).await?;
        Ok(published_view(published))
    }
}

fn published_view(p: Published) -> api::PublishedEvent {
    let state = match p.state {
        EventState::Pending => api::PublishedEventState::Pending,
        EventState::Buffered => api::PublishedEventState::Buffered,
        EventState::Delivered => api::PublishedEventState::Delivered,
        EventState::Expired => api::PublishedEventState::Expired,
    };
    api::PublishedEvent {
        id: p.id,
        duplicate: p.duplicate,
        resumed: p.resumed,
        received: p.received,
        state,
        buffered_until: p.buffered_until,
        remember_until: p.remember_until,
    }
}
