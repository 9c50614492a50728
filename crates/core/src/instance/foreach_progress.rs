//! How far a ForEach task got through its items, as persisted in the parent's state: counters
//! and the set of open iterations, never the items (those are in the run's shared snapshot,
//! stored once; see [`super::ForEachSnapshot`]). So the parent's state stays small however long the list is,
//! and a step that applies an iteration's end rewrites a few numbers, not the list.
//!
//! An iteration's end is delivered at least once; it is applied exactly once because it
//! counts only while its index is in `open`, and applying it takes the index out. An index
//! goes into `open` once, when it starts (`next` only grows), so no end counts twice and none
//! is lost. `open` is a set of ranges: iterations start in runs of consecutive indices and
//! mostly end near the order they started, so it holds a few ranges, and never more than
//! `running` of them.

use std::ops::Range;

use rangemap::RangeSet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How far a ForEach task got through its items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredProgress")]
pub struct ForEachProgress {
    /// How many items the list had.
    pub total: usize,
    /// The next item to start.
    pub next: usize,
    /// Iterations started whose end was not applied yet (the size of `open`).
    pub running: usize,
    pub completed: usize,
    pub failed: usize,
    /// The indices of the running iterations.
    #[serde(with = "ranges")]
    pub open: RangeSet<usize>,
    /// Only in a state stored by a Baton that kept the item list in the parent: the list, until
    /// the next step moves it into a shared snapshot.
    #[serde(default, rename = "items", skip_serializing_if = "Vec::is_empty")]
    pub legacy_items: Vec<Value>,
}

impl ForEachProgress {
    /// A run over `total` items, none started.
    pub fn new(total: usize) -> Self {
        Self {
            total,
            next: 0,
            running: 0,
            completed: 0,
            failed: 0,
            open: RangeSet::new(),
            legacy_items: Vec::new(),
        }
    }

    /// Starts the next `count` iterations; returns their indices.
    pub fn launch(&mut self, count: usize) -> Range<usize> {
        let range = self.next..self.next + count;
        if count > 0 {
            self.open.insert(range.clone());
        }
        self.next += count;
        self.running += count;
        range
    }

    /// Applies the end of iteration `index`, once: returns whether it counted (it was running).
    pub fn end(&mut self, index: usize, completed: bool) -> bool {
        if !self.open.contains(&index) {
            return false;
        }
        self.open.remove(index..index + 1);
        self.running -= 1;
        if completed {
            self.completed += 1;
        } else {
            self.failed += 1;
        }
        true
    }

    /// Has every item's iteration ended?
    pub fn done(&self) -> bool {
        self.completed + self.failed == self.total
    }

    /// How many more iterations may start now, with `parallel` at once.
    pub fn room(&self, parallel: usize) -> usize {
        parallel
            .saturating_sub(self.running)
            .min(self.total - self.next)
    }
}

/// The progress as stored, in either format: counters with `open` (this one), or the item
/// list with the `finished` indices (states stored before the items were shared).
#[derive(Deserialize)]
struct StoredProgress {
    #[serde(default)]
    total: Option<usize>,
    next: usize,
    running: usize,
    completed: usize,
    failed: usize,
    #[serde(default, with = "ranges::option")]
    open: Option<RangeSet<usize>>,
    #[serde(default)]
    items: Vec<Value>,
    #[serde(default)]
    finished: Vec<usize>,
}

impl From<StoredProgress> for ForEachProgress {
    fn from(stored: StoredProgress) -> Self {
        // The old format: every started index that is not finished is open.
        let open = stored.open.unwrap_or_else(|| {
            let mut open = RangeSet::new();
            if stored.next > 0 {
                open.insert(0..stored.next);
            }
            for &index in &stored.finished {
                open.remove(index..index + 1);
            }
            open
        });
        Self {
            total: stored.total.unwrap_or(stored.items.len()),
            next: stored.next,
            running: stored.running,
            completed: stored.completed,
            failed: stored.failed,
            open,
            legacy_items: stored.items,
        }
    }
}

/// `open` as a JSON list of `[start, end)` pairs: `[[0, 8], [9, 12]]`.
mod ranges {
    use rangemap::RangeSet;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        set: &RangeSet<usize>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let pairs: Vec<[usize; 2]> = set.iter().map(|r| [r.start, r.end]).collect();
        pairs.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<RangeSet<usize>, D::Error> {
        let pairs = Vec::<[usize; 2]>::deserialize(deserializer)?;
        Ok(pairs
            .into_iter()
            .filter(|[start, end]| start < end)
            .map(|[start, end]| start..end)
            .collect())
    }

    pub mod option {
        use super::*;

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<RangeSet<usize>>, D::Error> {
            super::deserialize(deserializer).map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_end_counts_once_however_often_it_is_applied() {
        let mut progress = ForEachProgress::new(3);
        assert_eq!(progress.launch(3), 0..3);
        assert!(progress.end(1, true));
        assert!(!progress.end(1, true), "applied again: not counted");
        assert!(!progress.end(1, false), "nor as a failure");
        assert!(
            !progress.end(7, true),
            "an index that never started does not count"
        );
        assert_eq!(
            (progress.running, progress.completed, progress.failed),
            (2, 1, 0)
        );
        assert_eq!(
            progress.open.iter().cloned().collect::<Vec<_>>(),
            vec![0..1, 2..3]
        );
    }

    #[test]
    fn the_stored_form_is_counters_and_ranges() {
        let mut progress = ForEachProgress::new(1_000_000);
        progress.launch(1000);
        for index in (0..500).chain([700]) {
            progress.end(index, true);
        }
        let stored = serde_json::to_value(&progress).unwrap();
        assert_eq!(
            stored,
            json!({"total": 1_000_000, "next": 1000, "running": 499, "completed": 501, "failed": 0, "open": [[500, 700], [701, 1000]]})
        );
        assert_eq!(
            serde_json::from_value::<ForEachProgress>(stored).unwrap(),
            progress
        );
    }

    #[test]
    fn a_progress_stored_with_its_items_and_finished_indices_reads_as_open_ranges() {
        let old = json!({"items": ["a", "b", "c", "d"], "next": 3, "running": 2, "completed": 1, "failed": 0, "finished": [1]});
        let progress: ForEachProgress = serde_json::from_value(old).unwrap();
        assert_eq!(progress.total, 4);
        assert_eq!(
            progress.open.iter().cloned().collect::<Vec<_>>(),
            vec![0..1, 2..3]
        );
        assert_eq!(
            progress.legacy_items,
            vec![json!("a"), json!("b"), json!("c"), json!("d")]
        );
        assert_eq!(progress.room(8), 1);
    }
}
