//! The job queue (both kinds), timers and their leases on PostgreSQL. Every claim selects its
//! rows `FOR UPDATE SKIP LOCKED`, so nodes racing for work never wait on each other and never
//! take the same row, and raises the row's lease number (its fencing token) as it takes it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;

use baton_core::JobRequest;
use baton_store::{
    ClaimedJob, ClaimedTimer, ExpiredLease, ExternalJobQueue, JobKey, JobProcess, JobQueue, Result,
    Timer, TimerQueue, WorkScope,
};

use crate::{db_err, other_err, PgStore};

fn after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    baton_core::timestamp::after(now, d)
}

fn limit(n: usize) -> i64 {
    n.min(i64::MAX as usize) as i64
}

/// Rows of `request, lease` as the jobs a claim leased until `lease_until`, oldest first.
fn claimed_jobs(
    rows: Vec<(String, i64, DateTime<Utc>)>,
    lease_until: DateTime<Utc>,
) -> Result<Vec<ClaimedJob>> {
    let mut rows = rows;
    rows.sort_by_key(|(_, _, queued_at)| *queued_at);
    rows.iter()
        .map(|(r, lease, _)| {
            serde_json::from_str::<JobRequest>(r)
                .map(|request| ClaimedJob {
                    request,
                    lease_until,
                    lease: *lease as u64,
                })
                .map_err(other_err)
        })
        .collect()
}

fn job_key(r: &sqlx::postgres::PgRow) -> sqlx::Result<JobKey> {
    Ok(JobKey {
        instance: r.try_get(0)?,
        task: r.try_get(1)?,
        attempt: r.try_get::<i32, _>(2)? as u32,
    })
}

impl JobQueue for PgStore {
    async fn claim_jobs_in(
        &self,
        owner: &str,
        scope: WorkScope<'_>,
        limit_: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedJob>> {
        let lease_until = after(now, lease);
        let sql = "UPDATE jobs SET owner = $1, lease_until = $2, lease = lease + 1
                   WHERE (instance_id, task) IN (SELECT instance_id, task FROM jobs WHERE owner IS NULL AND topic IS NULL
                       AND ($4::TEXT IS NULL OR instance_id = $4) AND ($5::TEXT IS NULL OR instance_id IN (SELECT id FROM instances WHERE case_id = $5))
                       ORDER BY queued_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                   RETURNING request, lease, queued_at";
        let rows = sqlx::query_as(sql)
            .bind(owner)
            .bind(lease_until)
            .bind(limit(limit_))
            .bind(scope.instance())
            .bind(scope.case())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        claimed_jobs(rows, lease_until)
    }

    async fn renew_leases(
        &self,
        owner: &str,
        jobs: &[JobKey],
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<JobKey>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let instances: Vec<&str> = jobs.iter().map(|j| j.instance.as_str()).collect();
        let tasks: Vec<&str> = jobs.iter().map(|j| j.task.as_str()).collect();
        let attempts: Vec<i32> = jobs.iter().map(|j| j.attempt as i32).collect();
        let sql = "UPDATE jobs SET lease_until = $2
                   WHERE (instance_id, task, attempt) IN (SELECT * FROM UNNEST($3::TEXT[], $4::TEXT[], $5::INTEGER[])) AND owner = $1 AND lease_until > $6
                   RETURNING instance_id, task, attempt";
        let rows = sqlx::query(sql)
            .bind(owner)
            .bind(until)
            .bind(instances)
            .bind(tasks)
            .bind(attempts)
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(job_key)
            .collect::<sqlx::Result<_>>()
            .map_err(db_err)
    }

    async fn take_over_expired(
        &self,
        owner: &str,
        limit_: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ExpiredLease>> {
        let sql = "WITH expired AS (
                       SELECT instance_id, task, owner FROM jobs WHERE owner IS NOT NULL AND lease_until <= $3 ORDER BY lease_until LIMIT $4 FOR UPDATE SKIP LOCKED
                   )
                   UPDATE jobs j SET owner = $1, lease_until = $2, lease = j.lease + 1 FROM expired e
                   WHERE j.instance_id = e.instance_id AND j.task = e.task
                   RETURNING j.instance_id, j.task, j.attempt, e.owner, j.topic IS NOT NULL, j.lease";
        let rows = sqlx::query(sql)
            .bind(owner)
            .bind(after(now, lease))
            .bind(now)
            .bind(limit(limit_))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(ExpiredLease {
                    job: job_key(r)?,
                    previous_owner: r.try_get(3)?,
                    external: r.try_get(4)?,
                    lease: r.try_get::<i64, _>(5)? as u64,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(db_err)
    }

    async fn end_leases_of_others(&self, owner: &str, now: DateTime<Utc>) -> Result<usize> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut ended = 0;
        for sql in [
            "UPDATE jobs SET lease_until = $2 WHERE owner IS NOT NULL AND owner <> $1 AND topic IS NULL AND lease_until > $2",
            "UPDATE timers SET lease_until = $2 WHERE owner IS NOT NULL AND owner <> $1 AND lease_until > $2",
        ] {
            ended += sqlx::query(sql).bind(owner).bind(now).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
        }
        tx.commit().await.map_err(db_err)?;
        Ok(ended as usize)
    }

    async fn leased_jobs(&self) -> Result<Vec<JobKey>> {
        let rows = sqlx::query(
            "SELECT instance_id, task, attempt FROM jobs WHERE owner IS NOT NULL AND topic IS NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(job_key)
            .collect::<sqlx::Result<_>>()
            .map_err(db_err)
    }

    async fn queued_jobs(&self) -> Result<usize> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE owner IS NULL AND topic IS NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(n as usize)
    }

    async fn record_job_process(&self, job: &JobKey, process: &JobProcess) -> Result<()> {
        sqlx::query(
            "INSERT INTO job_processes (instance_id, task, attempt, pid, pgid, identity) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (instance_id, task, attempt) DO UPDATE SET pid = EXCLUDED.pid, pgid = EXCLUDED.pgid, identity = EXCLUDED.identity",
        )
        .bind(&job.instance)
        .bind(&job.task)
        .bind(job.attempt as i32)
        .bind(i64::from(process.pid))
        .bind(i64::from(process.pgid))
        .bind(&process.identity)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn forget_job_process(&self, job: &JobKey) -> Result<()> {
        sqlx::query(
            "DELETE FROM job_processes WHERE instance_id = $1 AND task = $2 AND attempt = $3",
        )
        .bind(&job.instance)
        .bind(&job.task)
        .bind(job.attempt as i32)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn job_processes(&self) -> Result<Vec<(JobKey, JobProcess)>> {
        let rows = sqlx::query("SELECT instance_id, task, attempt, pid, pgid, identity FROM job_processes ORDER BY instance_id, task, attempt").fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let process = JobProcess {
                    pid: r.try_get::<i64, _>(3)? as u32,
                    pgid: r.try_get::<i64, _>(4)? as u32,
                    identity: r.try_get(5)?,
                };
                Ok((job_key(r)?, process))
            })
            .collect::<sqlx::Result<_>>()
            .map_err(db_err)
    }
}

impl ExternalJobQueue for PgStore {
    async fn lock_external_jobs(
        &self,
        owner: &str,
        topics: &[String],
        limit_: usize,
        lock: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedJob>> {
        let lease_until = after(now, lock);
        let sql = "UPDATE jobs SET owner = $1, lease_until = $2, lease = lease + 1
                   WHERE (instance_id, task) IN (SELECT instance_id, task FROM jobs WHERE owner IS NULL AND topic = ANY($3) ORDER BY queued_at LIMIT $4 FOR UPDATE SKIP LOCKED)
                   RETURNING request, lease, queued_at";
        let rows = sqlx::query_as(sql)
            .bind(owner)
            .bind(lease_until)
            .bind(topics)
            .bind(limit(limit_))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        claimed_jobs(rows, lease_until)
    }

    async fn extend_lock(
        &self,
        job: &JobKey,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let changed = sqlx::query("UPDATE jobs SET lease_until = $5 WHERE instance_id = $1 AND task = $2 AND attempt = $3 AND owner = $4 AND topic IS NOT NULL AND lease_until > $6")
            .bind(&job.instance)
            .bind(&job.task)
            .bind(job.attempt as i32)
            .bind(owner)
            .bind(until)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db_err)?
            .rows_affected();
        Ok(changed == 1)
    }

    async fn next_lock_expiry(&self) -> Result<Option<DateTime<Utc>>> {
        sqlx::query_scalar(
            "SELECT MIN(lease_until) FROM jobs WHERE owner IS NOT NULL AND topic IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }
}

/// A row of `instance_id, key, due_at, payload` as a timer.
fn timer(r: &sqlx::postgres::PgRow) -> sqlx::Result<Timer> {
    let payload: String = r.try_get(3)?;
    Ok(Timer {
        instance: r.try_get(0)?,
        key: r.try_get(1)?,
        due_at: r.try_get(2)?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
    })
}

impl TimerQueue for PgStore {
    async fn due_timers(&self, now: DateTime<Utc>, limit_: usize) -> Result<Vec<Timer>> {
        let rows = sqlx::query("SELECT instance_id, key, due_at, payload FROM timers WHERE due_at <= $1 ORDER BY due_at LIMIT $2")
            .bind(now)
            .bind(limit(limit_))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(timer)
            .collect::<sqlx::Result<_>>()
            .map_err(db_err)
    }

    async fn due_timers_of(
        &self,
        instance: &str,
        now: DateTime<Utc>,
        limit_: usize,
    ) -> Result<Vec<Timer>> {
        let rows = sqlx::query("SELECT instance_id, key, due_at, payload FROM timers WHERE instance_id = $1 AND due_at <= $2 ORDER BY due_at LIMIT $3")
            .bind(instance)
            .bind(now)
            .bind(limit(limit_))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(timer)
            .collect::<sqlx::Result<_>>()
            .map_err(db_err)
    }

    async fn next_timer_due_in(&self, scope: WorkScope<'_>) -> Result<Option<DateTime<Utc>>> {
        let sql = "SELECT MIN(due_at) FROM timers WHERE ($1::TEXT IS NULL OR instance_id = $1) AND ($2::TEXT IS NULL OR instance_id IN (SELECT id FROM instances WHERE case_id = $2))";
        sqlx::query_scalar(sql)
            .bind(scope.instance())
            .bind(scope.case())
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn claim_timers(
        &self,
        owner: &str,
        scope: WorkScope<'_>,
        limit_: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedTimer>> {
        let sql = "UPDATE timers SET owner = $1, lease_until = $2, lease = lease + 1
                   WHERE (instance_id, key) IN (SELECT instance_id, key FROM timers
                       WHERE due_at <= $3 AND ($5::TEXT IS NULL OR instance_id = $5) AND (owner IS NULL OR lease_until <= $3)
                       AND ($6::TEXT IS NULL OR instance_id IN (SELECT id FROM instances WHERE case_id = $6))
                       ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)
                   RETURNING instance_id, key, due_at, payload, lease";
        let rows = sqlx::query(sql)
            .bind(owner)
            .bind(after(now, lease))
            .bind(now)
            .bind(limit(limit_))
            .bind(scope.instance())
            .bind(scope.case())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut claimed = rows
            .iter()
            .map(|r| {
                Ok(ClaimedTimer {
                    timer: timer(r)?,
                    lease: r.try_get::<i64, _>(4)? as u64,
                })
            })
            .collect::<sqlx::Result<Vec<_>>>()
            .map_err(db_err)?;
        // RETURNING gives no order: earliest first, as a driver fires them.
        claimed.sort_by(|a, b| {
            (a.timer.due_at, &a.timer.instance, &a.timer.key).cmp(&(
                b.timer.due_at,
                &b.timer.instance,
                &b.timer.key,
            ))
        });
        Ok(claimed)
    }
}
