//! Department scoping (Stardust): the one place that decides which instances a user may see
//! and act on, by the department each instance carries (see `baton_core::department`).
//!
//! - An administrator sees every instance; so does the local command line acting as the
//!   built-in `operator`, who holds the database file. Acting `--as` a user, it sees what that
//!   user sees.
//! - A user of a department sees the unscoped instances and those of their department.
//! - A user of no department sees only the unscoped instances.
//!
//! What a user may not see, they may not act on: its tasks and human tasks, documents
//! (through it), history, children, incidents and change events, spawning under it or
//! aborting it. Listings (instances, cases, the inbox, open incidents, change streams) leave
//! out what is out of scope, filtered in the store's query; naming such an instance directly
//! is refused as forbidden ([`ServiceError::OutOfScope`]: 403, exit 2). Forbidden rather than
//! not found: instance ids are random UUIDs, so the refusal tells nothing a user could not
//! learn by guessing, and it tells a user who was given an id why they cannot open it.

use baton_core::people::Caller;
use baton_store::{DepartmentScope, OPERATOR};

use crate::{Result, Service, ServiceError, ServiceStore};

/// The acting user, with the department scope they see.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub caller: Caller,
    pub scope: DepartmentScope,
}

impl<S: ServiceStore> Service<S> {
    /// The acting user (refused as unauthenticated if unknown) and their scope.
    pub(crate) async fn viewer(&self, user: &str) -> Result<Viewer> {
        let caller = self.authenticate(user).await?;
        let scope = self.scope_of(&caller).await?;
        Ok(Viewer { caller, scope })
    }

    /// The department scope `caller` sees (see the module doc).
    pub(crate) async fn scope_of(&self, caller: &Caller) -> Result<DepartmentScope> {
        if caller.admin || (self.local && caller.user == OPERATOR) {
            return Ok(DepartmentScope::All);
        }
        Ok(
            match self
                .engine
                .store()
                .user(&caller.user)
                .await?
                .and_then(|u| u.department)
            {
                Some(department) => DepartmentScope::Department(department),
                None => DepartmentScope::Unscoped,
            },
        )
    }

    /// Refuses an unknown instance as not found, and one out of `viewer`'s scope as forbidden.
    pub(crate) async fn visible(&self, viewer: &Viewer, id: &str) -> Result<()> {
        match self.engine.store().instance_department(id).await? {
            None => Err(baton_engine::EngineError::InstanceNotFound(id.to_owned()).into()),
            Some(department) if viewer.scope.admits(department.as_deref()) => Ok(()),
            Some(_) => Err(ServiceError::OutOfScope {
                user: viewer.caller.user.clone(),
                instance: id.to_owned(),
            }),
        }
    }

    /// [`visible`](Self::visible) for the acting user `user`, who is authenticated first.
    pub(crate) async fn visible_to(&self, user: &str, id: &str) -> Result<Viewer> {
        let viewer = self.viewer(user).await?;
        self.visible(&viewer, id).await?;
        Ok(viewer)
    }
}
