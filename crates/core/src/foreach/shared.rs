//! What the iterations of one run of a ForEach task share instead of each holding a copy: the
//! process data as it was when the task started, and the item list, stored once per run (the
//! parent instance, the task and the task's attempt) as a [`ForEachSnapshot`].
//!
//! An iteration reads its data *by reference*: its own `data` holds only what its body wrote
//! (`set` tasks, job output, prompt input), and its expressions see that over the snapshot's
//! data. Its writes stay its own, as with a copy: they are not merged back into the parent.
//! The driver hands the snapshot to every step of an iteration (`Knowledge::iteration_data`)
//! and to every step of a parent that may start more iterations (`Knowledge::foreach_snapshots`).
//! An iteration stored with a copy of the data (before snapshots) names no snapshot and reads
//! its copy, as it always did.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::expr::PreparedData;
use crate::step::Machine;

/// The data and items one run of a ForEach task shares with its iterations.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ForEachSnapshot {
    /// The parent's process data when the task started.
    pub data: Map<String, Value>,
    /// The list the task iterates over.
    pub items: Vec<Value>,
    /// `data` converted for expressions, once for every iteration that reads it.
    #[serde(skip)]
    prepared: PreparedData,
}

impl ForEachSnapshot {
    pub fn new(data: Map<String, Value>, items: Vec<Value>) -> Self {
        Self { data, items, prepared: PreparedData::default() }
    }
}

impl PartialEq for ForEachSnapshot {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data && self.items == other.items
    }
}

impl Machine<'_> {
    /// The snapshot this instance reads its data through: for an iteration that shares its
    /// parent's data, the one the driver supplied.
    pub(crate) fn shared(&self) -> Option<&Arc<ForEachSnapshot>> {
        self.inst.iteration.as_ref()?.snapshot?;
        self.knowledge.iteration_data.as_ref()
    }

    /// One variable of the data the instance sees: its own, else the shared one.
    pub(crate) fn data_value(&self, name: &str) -> Option<&Value> {
        self.inst.data.get(name).or_else(|| self.shared()?.data.get(name))
    }

    /// All the data the instance sees, as one map (its own writes over the shared data).
    pub(crate) fn visible_data(&self) -> Map<String, Value> {
        match self.shared() {
            None => self.inst.data.clone(),
            Some(shared) => {
                let mut data = shared.data.clone();
                data.extend(self.inst.data.iter().map(|(k, v)| (k.clone(), v.clone())));
                data
            }
        }
    }

    /// `scope` reading through the shared data, if the instance shares any.
    pub(crate) fn share_into<'s>(&'s self, scope: crate::expr::Scope<'s>) -> crate::expr::Scope<'s> {
        match self.shared() {
            Some(shared) => scope.with_base(&shared.prepared, &shared.data),
            None => scope,
        }
    }
}
