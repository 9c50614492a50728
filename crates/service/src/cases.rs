//! Cases: the instances users track as one entity (a root, its sub-processes and what they
//! handed off), listed by the case id every one of them carries.

use baton_api_model as api;
use baton_store::{InstanceCursor, InstanceQuery};

use crate::{view, Result, Service, ServiceError, ServiceStore, MAX_LIMIT};

impl<S: ServiceStore> Service<S> {
    /// Every instance of case `id` the user may see, oldest first; an id that names no case is
    /// not found, and a case of another department than the user's is forbidden (the
    /// instances of a case share their root's department).
    pub async fn case(&self, user: &str, id: &str) -> Result<api::Case> {
        let viewer = self.viewer(user).await?;
        let store = self.engine.store();
        let mut query = InstanceQuery {
            case: Some(id.to_owned()),
            scope: viewer.scope.clone(),
            limit: MAX_LIMIT,
            ..InstanceQuery::default()
        };
        let mut instances = Vec::new();
        loop {
            let page = store.list_instances(&query).await?;
            let full = page.len() == query.limit;
            query.after = page.last().map(|last| InstanceCursor {
                created_at: last.created_at,
                id: last.id.clone(),
            });
            instances.extend(page.iter().map(view::instance_summary));
            if !full {
                break;
            }
        }
        if instances.is_empty() {
            let any = store
                .list_instances(&InstanceQuery {
                    case: Some(id.to_owned()),
                    limit: 1,
                    ..InstanceQuery::default()
                })
                .await?;
            return Err(match any.first() {
                Some(hidden) => ServiceError::OutOfScope {
                    user: viewer.caller.user,
                    instance: hidden.id.clone(),
                },
                None => ServiceError::CaseNotFound(id.to_owned()),
            });
        }
        // The store lists newest first.
        instances.reverse();
        Ok(api::Case {
            id: id.to_owned(),
            instances,
        })
    }
}
