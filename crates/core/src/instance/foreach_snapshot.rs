//! What the iterations of one run of a ForEach task share instead of each holding a copy: the
//! process data as it was when the task started, and the item list, stored once per run (the
//! parent instance, the task and the task's attempt) as a [`ForEachSnapshot`].
//!
//! An iteration reads its data *by reference*: its own `data` holds only what its body wrote
//! (`set` tasks, job output, prompt input), and its expressions see that over the snapshot's
//! data. Its writes stay its own, as with a copy: they are not merged back into the parent.
//! The driver hands the snapshot to every step of an iteration (`Knowledge::iteration_data`)
//! and to every step of a parent that may start more iterations (`Knowledge::foreach_snapshots`).
//! The machine reads an instance's data through it (see `Machine::visible_data`).
//! An iteration stored with a copy of the data (before snapshots) names no snapshot and reads
//! its copy, as it always did.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::expr::PreparedData;

/// The data and items one run of a ForEach task shares with its iterations.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ForEachSnapshot {
    /// The parent's process data when the task started.
    pub data: Map<String, Value>,
    /// The list the task iterates over.
    pub items: Vec<Value>,
    /// `data` converted for expressions, once for every iteration that reads it.
    #[serde(skip)]
    pub(crate) prepared: PreparedData,
}

impl ForEachSnapshot {
    pub fn new(data: Map<String, Value>, items: Vec<Value>) -> Self {
        Self {
            data,
            items,
            prepared: PreparedData::default(),
        }
    }
}

impl PartialEq for ForEachSnapshot {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data && self.items == other.items
    }
}
