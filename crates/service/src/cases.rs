//! Cases: the instances users track as one entity (a root, its sub-processes and what they
//! handed off), listed by the case id every one of them carries.

use baton_api_model as api;
use baton_store::{InstanceCursor, InstanceQuery};

use crate::{view, Result, Service, ServiceError, ServiceStore, MAX_LIMIT};

impl<S: ServiceStore> Service<S> {
    /// Every instance of case `id`, oldest first; an id that names no case is not found.
    pub async fn case(&self, user: &str, id: &str) -> Result<api::Case> {
        self.authenticate(user).await?;
        let store = self.engine.store();
        let mut query = InstanceQuery { case: Some(id.to_owned()), limit: MAX_LIMIT, ..InstanceQuery::default() };
        let mut instances = Vec::new();
        loop {
            let page = store.list_instances(&query).await?;
            let full = page.len() == query.limit;
            query.after = page.last().map(|last| InstanceCursor { created_at: last.created_at, id: last.id.clone() });
            instances.extend(page.iter().map(view::instance_summary));
            if !full {
                break;
            }
        }
        if instances.is_empty() {
            return Err(ServiceError::CaseNotFound(id.to_owned()));
        }
        // The store lists newest first.
        instances.reverse();
        Ok(api::Case { id: id.to_owned(), instances })
    }
}
