//! Stardust's run-time operations on the hierarchy: a user **spawns** a sub-process under a
//! running instance, or **aborts and starts** an instance that was started in the wrong
//! process definition. Neither is a modelled step: both are commands a user gives. What a
//! `spawned` or `peer` link means is the table of [`crate::hierarchy`].
//!
//! A spawned instance is a sub-process of the root (the driver applies [`Command::Spawn`] to
//! the root of the instance the user spawned from), in the root's case; the root cannot
//! complete before it did: with every task of its own ended, the root waits for its open
//! spawned sub-processes, and one that failed or was aborted fails the root.
//!
//! Data passes by value (Stardust's copy semantics for primitive and structured data): the
//! new instance starts with every data value of the instance it came from, under the values
//! the user gives; a later change on either side is not seen by the other.
//!
//! [`Command::Spawn`]: crate::command::Command::Spawn

use serde_json::{Map, Value};

use crate::definition::ProcessRef;
use crate::effect::Effect;
use crate::event::EventKind;
use crate::hierarchy::{LinkKind, ParentLink};
use crate::instance::ChildRef;
use crate::machine::{Machine, TransitionError};
use crate::status::{InstanceStatus, Reason};

impl Machine<'_> {
    /// Starts a spawned sub-process of this instance (the root). Refused, creating nothing, if
    /// the process cannot be started or refuses the data.
    pub(crate) fn spawn(&mut self, target: &ProcessRef, carried: Map<String, Value>, data: Map<String, Value>, by: &str) -> Result<(), TransitionError> {
        let callee = self.callee(target).map_err(TransitionError::ChildNotStarted)?;
        let (mut start, unused) = carry(&callee.definition, carried);
        start.extend(data);
        let link = ParentLink { instance: self.inst.id.clone(), task: String::new(), index: 0, kind: LinkKind::Spawned, attempt: 0 };
        let child = self.start_child(&callee, start, unused, link, false).map_err(TransitionError::ChildNotStarted)?;
        let id = child.instance.id.clone();
        // A child with nothing to wait for ended in its first step: its end is known now.
        let ended = child.instance.status.is_terminal().then_some(child.instance.status);
        self.children.push(child);
        self.inst.spawned.push(ChildRef { instance: id.clone(), ended });
        self.emit(None, EventKind::ChildStarted { child: id, process: callee.definition.id.clone(), version: callee.definition.version, link: LinkKind::Spawned, by: Some(by.to_owned()) });
        Ok(())
    }

    /// A spawned sub-process ended: the root hears of it (and is aborted with it if whoever
    /// aborted it asked for that).
    pub(crate) fn spawned_ended(&mut self, child: &str, status: InstanceStatus, aborted_by: Option<String>) {
        let Some(spawned) = self.inst.spawned.iter_mut().find(|s| s.instance == child) else { return };
        spawned.ended = Some(status);
        if status == InstanceStatus::Aborted {
            if let Some(by) = aborted_by {
                self.aborted_by = Some(by.clone());
                self.end_instance(InstanceStatus::Aborted, Some(Reason::ChildAborted { child: child.to_owned(), by }));
            }
        }
    }

    /// Aborts this instance and starts a peer instance of `target` with its data, in the same
    /// step; each names the other.
    pub(crate) fn abort_and_start(&mut self, target: &ProcessRef, by: &str) -> Result<(), TransitionError> {
        let callee = self.callee(target).map_err(TransitionError::ChildNotStarted)?;
        let link = ParentLink { instance: self.inst.id.clone(), task: String::new(), index: 0, kind: LinkKind::Peer, attempt: 0 };
        let (data, unused) = carry(&callee.definition, self.visible_data());
        let peer = self.start_child(&callee, data, unused, link, false).map_err(TransitionError::ChildNotStarted)?;
        let id = peer.instance.id.clone();
        self.children.push(peer);
        self.inst.replaced_by = Some(id.clone());
        self.emit(None, EventKind::ChildStarted { child: id, process: callee.definition.id.clone(), version: callee.definition.version, link: LinkKind::Peer, by: Some(by.to_owned()) });
        self.end_instance(InstanceStatus::Aborted, Some(Reason::Operator { action: "abort-and-start".into(), by: by.to_owned() }));
        Ok(())
    }

    /// The spawned sub-processes still open, and one that ended without completing, if any:
    /// what keeps a root whose own tasks all ended from completing.
    pub(crate) fn spawned_holding(&self) -> (Vec<String>, Option<&ChildRef>) {
        let open = self.inst.spawned.iter().filter(|s| s.ended.is_none()).map(|s| s.instance.clone()).collect();
        let failed = self.inst.spawned.iter().find(|s| matches!(s.ended, Some(InstanceStatus::Failed | InstanceStatus::Aborted)));
        (open, failed)
    }

    /// Aborting this instance aborts its open spawned sub-processes (in the same commit).
    pub(crate) fn abort_spawned(&mut self) {
        if self.inst.spawned.iter().any(|s| s.ended.is_none()) {
            self.effects.push(Effect::AbortChildren { task: String::new() });
        }
    }
}

/// Stardust: "all data values of the originating instance pass to the spawned one, whether or
/// not it uses them", by value. Returns the values of variables the new definition declares
/// (its start data) and the others (carried as they are, unused by it). A value of a
/// variable it declares with another type is left out (its declared default applies), so
/// carried data never makes the start fail; the user's own values are checked as start data.
fn carry(def: &crate::definition::Definition, data: Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    if def.data.is_empty() {
        return (data, Map::new());
    }
    let (mut declared, mut unused) = (Map::new(), Map::new());
    for (key, value) in data {
        match def.data.get(&key) {
            Some(decl) if decl.ty.admits(&value) => {
                declared.insert(key, value);
            }
            Some(_) => {}
            None => {
                unused.insert(key, value);
            }
        }
    }
    (declared, unused)
}
