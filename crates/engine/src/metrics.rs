//! What the engine measures about itself: committed steps, how long steps and commits take,
//! and how many instances of each process started and ended. A server exports these (as
//! Prometheus metrics); reading them never slows the engine down.
//!
//! Recording is a few relaxed atomic additions per step. The latency histogram is a fixed
//! array of atomic bucket counters rather than the `prometheus-client` crate's histogram,
//! which takes a mutex on every observation: an engine step must not wait on a lock to be
//! measured. The per-process counters sit behind a read-mostly lock that is taken only when
//! an instance starts or ends, never on the steps in between.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use baton_core::InstanceStatus;

/// The upper bounds, in seconds, of the latency buckets (a last bucket takes the rest): from
/// half a millisecond (an in-memory step in a shared commit) to ten seconds (a stalled disk).
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram recorded with atomic additions only (see the module doc).
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Observations per bucket (not cumulative); the last one is past the last bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

/// A histogram as read at one moment, in Prometheus' shape.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound in seconds, observations at or below it)`, cumulative, without `+Inf`.
    pub buckets: Vec<(f64, u64)>,
    /// Every observation (the `+Inf` bucket).
    pub count: u64,
    /// The sum of the observations, in seconds.
    pub sum: f64,
}

impl LatencyHistogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS.len());
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += count.load(Relaxed);
            buckets.push((*bound, cumulative));
        }
        let count = cumulative + self.buckets[LATENCY_BUCKETS.len()].load(Relaxed);
        HistogramSnapshot {
            buckets,
            count,
            sum: self.sum_nanos.load(Relaxed) as f64 / 1e9,
        }
    }
}

/// How many instances of one process started and ended, by how they ended.
#[derive(Debug, Default)]
struct ProcessCounters {
    started: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    aborted: AtomicU64,
}

/// The instance counts of one process, as read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessCounts {
    pub started: u64,
    pub completed: u64,
    pub failed: u64,
    pub aborted: u64,
}

/// The engine's measurements since it was made.
#[derive(Debug, Default)]
pub struct EngineMetrics {
    steps: AtomicU64,
    step_latency: LatencyHistogram,
    commit_latency: LatencyHistogram,
    /// By process id; a ForEach iteration counts under its body (`PROCESS/TASK`).
    processes: RwLock<HashMap<String, Arc<ProcessCounters>>>,
}

impl EngineMetrics {
    /// Instance steps committed (a new ForEach iteration's first step is one).
    pub fn steps(&self) -> u64 {
        self.steps.load(Relaxed)
    }

    /// How long applying one command took, from the call (waiting for the instance's turn
    /// included) to its commit.
    pub fn step_latency(&self) -> HistogramSnapshot {
        self.step_latency.snapshot()
    }

    /// How long the store took to commit (a group commit shared by several steps counts once
    /// for each caller waiting on it).
    pub fn commit_latency(&self) -> HistogramSnapshot {
        self.commit_latency.snapshot()
    }

    /// Instance counts by process id, ordered by id.
    pub fn processes(&self) -> Vec<(String, ProcessCounts)> {
        let processes = self.processes.read().unwrap_or_else(|e| e.into_inner());
        let mut counts: Vec<(String, ProcessCounts)> = processes
            .iter()
            .map(|(id, c)| {
                let counts = ProcessCounts {
                    started: c.started.load(Relaxed),
                    completed: c.completed.load(Relaxed),
                    failed: c.failed.load(Relaxed),
                    aborted: c.aborted.load(Relaxed),
                };
                (id.clone(), counts)
            })
            .collect();
        counts.sort_by(|a, b| a.0.cmp(&b.0));
        counts
    }

    pub(crate) fn step_took(&self, elapsed: Duration) {
        self.step_latency.observe(elapsed);
    }

    pub(crate) fn commit_took(&self, elapsed: Duration, steps: usize) {
        self.commit_latency.observe(elapsed);
        self.steps.fetch_add(steps as u64, Relaxed);
    }

    /// Counts an instance of `process` that started (`started`) and/or reached `ended`, a
    /// terminal status, in a committed step.
    pub(crate) fn instance(&self, process: &str, started: bool, ended: Option<InstanceStatus>) {
        let counters = self.counters(process);
        if started {
            counters.started.fetch_add(1, Relaxed);
        }
        match ended {
            Some(InstanceStatus::Completed) => counters.completed.fetch_add(1, Relaxed),
            Some(InstanceStatus::Failed) => counters.failed.fetch_add(1, Relaxed),
            Some(InstanceStatus::Aborted) => counters.aborted.fetch_add(1, Relaxed),
            _ => 0,
        };
    }

    fn counters(&self, process: &str) -> Arc<ProcessCounters> {
        if let Some(counters) = self
            .processes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(process)
        {
            return counters.clone();
        }
        self.processes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(process.to_owned())
            .or_default()
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latency_lands_in_the_first_bucket_whose_bound_holds_it_and_buckets_are_cumulative() {
        let histogram = LatencyHistogram::default();
        histogram.observe(Duration::from_micros(300));
        histogram.observe(Duration::from_millis(1));
        histogram.observe(Duration::from_millis(7));
        histogram.observe(Duration::from_secs(60));
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count, 4);
        assert_eq!(
            &snapshot.buckets[..5],
            &[(0.0005, 1), (0.001, 2), (0.0025, 2), (0.005, 2), (0.01, 3)]
        );
        assert_eq!(
            snapshot.buckets.last(),
            Some(&(10.0, 3)),
            "a minute is past every bound"
        );
        assert!((snapshot.sum - 60.0083).abs() < 1e-9, "{}", snapshot.sum);
    }

    #[test]
    fn instances_are_counted_by_process_and_by_how_they_ended() {
        let metrics = EngineMetrics::default();
        metrics.instance("orders", true, None);
        metrics.instance("orders", true, Some(InstanceStatus::Completed));
        metrics.instance("orders", false, Some(InstanceStatus::Failed));
        metrics.instance("billing", true, None);
        metrics.instance("billing", false, Some(InstanceStatus::Aborted));
        assert_eq!(
            metrics.processes(),
            [
                (
                    "billing".to_owned(),
                    ProcessCounts {
                        started: 1,
                        completed: 0,
                        failed: 0,
                        aborted: 1
                    }
                ),
                (
                    "orders".to_owned(),
                    ProcessCounts {
                        started: 2,
                        completed: 1,
                        failed: 1,
                        aborted: 0
                    }
                ),
            ]
        );
    }
}
