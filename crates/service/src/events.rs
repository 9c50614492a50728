//! Change streams: the engine's change feed as a user may see it, for `GET /api/events` and
//! for following an instance.
//!
//! What a user sees is what they may read through the API: the steps of every instance in
//! their department scope (see [`crate::scope`]), and, of those instances, the changes of the human
//! tasks they may see (as a potential owner, the owner, an administrator of the task or its
//! originator; an administrator sees all). Watching another user's human tasks takes an
//! administrator. The user's groups are read once, when the stream opens.

use std::collections::VecDeque;

use baton_api_model as api;
use baton_core::user_task::Caller;
use baton_engine::{Change, Subscription};
use baton_store::DepartmentScope;
use tokio::sync::broadcast::error::RecvError;

use crate::{view, Result, Service, ServiceError, ServiceStore};

/// What a change stream shows (both given: both must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this instance's changes.
    pub instance: Option<String>,
    /// Only the changes of human tasks this user may see, and no instance events.
    pub user: Option<String>,
}

/// A change stream: see the module doc.
pub struct Events {
    feed: Subscription,
    instance: Option<String>,
    viewer: Caller,
    /// The instances the viewer may see, by department.
    scope: DepartmentScope,
    /// The user whose human tasks are watched (`?user=`), if any.
    watched: Option<Caller>,
    ready: VecDeque<api::ChangeEvent>,
}

impl<S: ServiceStore> Service<S> {
    /// Opens a change stream for `user`, from now on. An unknown instance is refused as not
    /// found; watching another user's human tasks, unless `user` is an administrator, as
    /// forbidden.
    pub async fn events(&self, user: &str, filter: EventFilter) -> Result<Events> {
        let scoped = self.viewer(user).await?;
        // Subscribed before the checks, so nothing committed after them is missed.
        let feed = self.engine.changes();
        if let Some(id) = &filter.instance {
            self.visible(&scoped, id).await?;
        }
        let (viewer, scope) = (scoped.caller, scoped.scope);
        let watched = match filter.user {
            None => None,
            Some(name) if name == viewer.user => Some(viewer.clone()),
            Some(name) => {
                if !(self.local || viewer.admin) {
                    return Err(ServiceError::Forbidden {
                        user: viewer.user,
                        what: "watch another user's human tasks",
                    });
                }
                Some(self.engine.store().caller(&name).await?)
            }
        };
        Ok(Events {
            feed,
            instance: filter.instance,
            viewer,
            scope,
            watched,
            ready: VecDeque::new(),
        })
    }
}

impl Events {
    /// The next event the stream shows; `None` once the engine is gone. A stream that fell
    /// behind the feed's buffer gets [`api::ChangeEvent::Lagged`] with how many records it
    /// missed, and goes on from the oldest record still held.
    pub async fn next(&mut self) -> Option<api::ChangeEvent> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            match self.feed.recv().await {
                Ok(change) => self.take(&change),
                Err(RecvError::Lagged(missed)) => return Some(api::ChangeEvent::Lagged { missed }),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Queues the events of `change` that this stream shows.
    fn take(&mut self, change: &Change) {
        if self
            .instance
            .as_ref()
            .is_some_and(|id| *id != change.instance)
            || !self.scope.admits(change.department.as_deref())
        {
            return;
        }
        if self.watched.is_none() {
            self.ready.push_back(view::instance_changed(change));
        }
        for human in &change.human_tasks {
            if human.visible_to(&self.viewer)
                && self
                    .watched
                    .as_ref()
                    .is_none_or(|watched| human.visible_to(watched))
            {
                self.ready
                    .push_back(view::human_task_changed(change, human));
            }
        }
    }
}
