//! Stardust's operations on a running hierarchy, for a user: spawn a sub-process, abort an
//! instance started in the wrong process and start its peer in the right one, and the list of
//! processes a user may start (the spawn menu). Only a startable process the user is
//! authorized to start (`startable`, `startable_by`) is started; administrators may start
//! every startable process.

use baton_api_model as api;
use baton_core::people::Caller;
use baton_core::Definition;
use serde_json::{Map, Value};

use crate::{view, Result, Service, ServiceError, ServiceStore};

impl<S: ServiceStore> Service<S> {
    /// Spawns `process` (the latest version, or `version`) as a sub-process of the root of
    /// instance `from`, with `from`'s data under `data`. Returns the spawned instance.
    pub async fn spawn(
        &self,
        user: &str,
        from: &str,
        process: &str,
        version: Option<u32>,
        data: Map<String, Value>,
    ) -> Result<api::Instance> {
        let caller = self.visible_to(user, from).await?.caller;
        self.may_start(&caller, process, version).await?;
        self.check_documents_in(user, &data).await?;
        let spawned = self
            .engine
            .spawn(from, process, version, data, user)
            .await?;
        self.view_of(&spawned).await
    }

    /// Aborts instance `id` and starts a peer instance of `process` (the latest version, or
    /// `version`) with its data, in one commit. Returns the peer.
    pub async fn abort_and_start(
        &self,
        user: &str,
        id: &str,
        process: &str,
        version: Option<u32>,
    ) -> Result<api::Instance> {
        let caller = self.visible_to(user, id).await?.caller;
        self.may_start(&caller, process, version).await?;
        let peer = self
            .engine
            .abort_and_start(id, process, version, user)
            .await?;
        self.view_of(&peer).await
    }

    /// The latest version of every process `user` may start, by id: what a spawn menu lists.
    pub async fn startable(&self, user: &str) -> Result<Vec<api::Definition>> {
        let caller = self.authenticate(user).await?;
        let mut startable = Vec::new();
        for stored in self.engine.store().definitions().await? {
            let definition = self
                .engine
                .definition(&stored.id, Some(stored.version))
                .await?;
            if definition.may_start(&caller) {
                startable.push(view::definition(&stored, &definition));
            }
        }
        Ok(startable)
    }

    /// Refuses a start of `process` that `caller` may not make.
    pub(crate) async fn may_start(
        &self,
        caller: &Caller,
        process: &str,
        version: Option<u32>,
    ) -> Result<()> {
        // An unknown process or version is not found (the engine would call a version a
        // stored instance names but the store lacks a defect).
        let stored = self.stored(process, version).await?;
        let definition = self
            .engine
            .definition(&stored.id, Some(stored.version))
            .await?;
        if definition.interactive {
            return Err(ServiceError::Interactive {
                process: process.to_owned(),
            });
        }
        match refusal(&definition, caller) {
            None => Ok(()),
            Some(why) => Err(ServiceError::MayNotStart {
                user: caller.user.clone(),
                process: process.to_owned(),
                why,
            }),
        }
    }
}

/// Why `caller` may not start `definition`, if they may not.
fn refusal(definition: &Definition, caller: &Caller) -> Option<&'static str> {
    if definition.may_start(caller) {
        None
    } else if !definition.startable {
        Some("it is not startable (`startable: false`): only `call` and `handoff` tasks start it")
    } else {
        Some("its `startable_by` names neither them nor a group of theirs")
    }
}
