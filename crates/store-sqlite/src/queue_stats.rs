//! Counting the job queue (by topic, queued and leased) and the due timers, for metrics.

use chrono::{DateTime, Utc};

use baton_store::{QueueDepths, QueueStats, Result, TopicJobs};

use crate::{ts, SqliteStore};

/// The jobs by topic: a job that runs a command has none and is counted under `''`.
const JOBS_BY_TOPIC: &str = "SELECT COALESCE(topic, '') AS t, SUM(owner IS NULL), SUM(owner IS NOT NULL) FROM jobs GROUP BY t ORDER BY t";

impl QueueStats for SqliteStore {
    async fn queue_depths(&self, now: DateTime<Utc>) -> Result<QueueDepths> {
        self.read(|conn| {
            let jobs = conn
                .prepare_cached(JOBS_BY_TOPIC)?
                .query_map([], |r| {
                    Ok(TopicJobs {
                        topic: r.get(0)?,
                        queued: r.get::<_, i64>(1)? as usize,
                        leased: r.get::<_, i64>(2)? as usize,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let timers_due =
                conn.prepare_cached("SELECT COUNT(*) FROM timers WHERE due_at <= ?1")?
                    .query_row([ts(now)], |r| r.get::<_, i64>(0))? as usize;
            Ok(QueueDepths { jobs, timers_due })
        })
    }
}
