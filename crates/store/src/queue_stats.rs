//! How much work waits in the queues right now: jobs by topic, queued and leased, and timers
//! that are due. Read when metrics are scraped, never on an engine step.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::Result;

/// The jobs of one topic. Jobs that run a command have no topic: their `topic` is `""`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicJobs {
    pub topic: String,
    /// Waiting to be fetched or claimed.
    pub queued: usize,
    /// Leased (locked) by a worker now.
    pub leased: usize,
}

/// What the job queue and the timers hold at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueDepths {
    /// One entry per topic that has a queued or leased job, ordered by topic.
    pub jobs: Vec<TopicJobs>,
    /// Timers due at or before the moment asked about (not fired yet).
    pub timers_due: usize,
}

/// Counting the queues, for metrics.
pub trait QueueStats: Send + Sync {
    /// The queues' depths, with timers due at or before `now`.
    fn queue_depths(&self, now: DateTime<Utc>) -> impl Future<Output = Result<QueueDepths>> + Send;
}
