//! [`ExternalJobQueue`] on SQLite (migration `20261202_0011_external_jobs.sql`): external jobs
//! are rows of the job queue with a topic. Locking is one request in the single writer, so no
//! job is locked twice; a lock is the row's lease (`owner`, `lease_until`, `lease`), the same
//! lease Baton's own worker holds on the jobs it runs, which a step applying the worker's report
//! checks in its own transaction (see `check_fence`).

use chrono::{DateTime, Utc};
use rusqlite::params;

use baton_store::{ClaimedJob, ExternalJobQueue, JobKey, Result};

use crate::{claimed_jobs, db_err, other_err, parse_ts, ts, SqliteStore};

impl ExternalJobQueue for SqliteStore {
    async fn lock_external_jobs(
        &self,
        owner: &str,
        topics: &[String],
        limit: usize,
        lock: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedJob>> {
        let (owner, topics) = (owner.to_owned(), topics.to_vec());
        let lease_until = baton_core::timestamp::after(now, lock);
        self.write(move |conn| {
            // The oldest `limit` of each topic (one index range each), then the oldest of those:
            // a single `topic IN (…) ORDER BY queued_at` would sort every queued job of them.
            let mut oldest: Vec<(String, String, String)> = Vec::new();
            let mut select = conn
                .prepare_cached("SELECT queued_at, instance_id, task FROM jobs WHERE owner IS NULL AND topic = ?1 ORDER BY queued_at LIMIT ?2")
                .map_err(db_err)?;
            for topic in &topics {
                let rows = select.query_map(params![topic, limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(db_err)?;
                for row in rows {
                    oldest.push(row.map_err(db_err)?);
                }
            }
            oldest.sort_unstable();
            oldest.truncate(limit);
            // One UPDATE for all of them, naming their keys as a JSON array.
            let keys = serde_json::to_string(&oldest.iter().map(|(_, instance, task)| [instance, task]).collect::<Vec<_>>()).map_err(other_err)?;
            let sql = "UPDATE jobs SET owner = ?1, lease_until = ?2, lease = lease + 1
                       WHERE (instance_id, task) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?3)) AND owner IS NULL
                       RETURNING request, lease";
            let rows: Vec<(String, i64)> = conn
                .prepare_cached(sql)
                .and_then(|mut s| s.query_map(params![owner, ts(lease_until), keys], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
                .map_err(db_err)?;
            claimed_jobs(rows, lease_until)
        })
        .await
    }

    async fn extend_lock(
        &self,
        job: &JobKey,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let (job, owner) = (job.clone(), owner.to_owned());
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE jobs SET lease_until = ?5 WHERE instance_id = ?1 AND task = ?2 AND attempt = ?3 AND owner = ?4 AND topic IS NOT NULL AND lease_until > ?6",
            )
            .and_then(|mut s| s.execute(params![job.instance, job.task, job.attempt, owner, ts(until), ts(now)]))
            .map(|changed| changed == 1)
            .map_err(db_err)
        })
        .await
    }

    async fn next_lock_expiry(&self) -> Result<Option<DateTime<Utc>>> {
        self.read(|conn| {
            let next: Option<String> = conn.query_row(
                "SELECT MIN(lease_until) FROM jobs WHERE owner IS NOT NULL AND topic IS NOT NULL",
                [],
                |r| r.get(0),
            )?;
            next.map(|t| parse_ts(&t)).transpose()
        })
    }
}
