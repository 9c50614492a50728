//! Committing one engine step on PostgreSQL, inside the commit's transaction. What can refuse
//! the step (its event seqs, the leases that fence it, the event it consumes, its start key,
//! the instance's `seq`) is checked first; a refusal returns an error and the caller's
//! transaction, rolled back, changes nothing. The leased rows a fence names are locked
//! (`FOR UPDATE`) when checked, so no takeover can slip between the check and the commit.

use chrono::Utc;
use sqlx::PgConnection;

use baton_store::{Result, StepRecord, StoreError};

use crate::{db_err, other_err};
use baton_core::instance::STATE_FORMAT;

/// A step with its JSON already written.
pub(crate) struct EncodedStep {
    pub(crate) record: StepRecord,
    state: Option<String>,
    events: Option<String>,
    jobs: Vec<String>,
    timer_payloads: Vec<String>,
    snapshots: Vec<String>,
}

impl EncodedStep {
    pub(crate) fn new(record: StepRecord) -> Result<Self> {
        let state = record.instance.as_deref().map(json).transpose()?;
        let events = (!record.events.is_empty())
            .then(|| json(&record.events))
            .transpose()?;
        let jobs = record.enqueue.iter().map(json).collect::<Result<_>>()?;
        let timer_payloads = record
            .set_timers
            .iter()
            .map(|t| json(&t.payload))
            .collect::<Result<_>>()?;
        let snapshots = record
            .share_snapshots
            .iter()
            .map(|(_, s)| json(&**s))
            .collect::<Result<_>>()?;
        Ok(Self {
            record,
            state,
            events,
            jobs,
            timer_payloads,
            snapshots,
        })
    }
}

/// A value as the JSON text stored.
pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(other_err)
}

/// Refuses the step unless every lease that fences it is held, as of the step's `now`.
async fn check_fences(conn: &mut PgConnection, step: &StepRecord) -> Result<()> {
    for lock in &step.timer_fence {
        let held = sqlx::query("SELECT 1 FROM timers WHERE instance_id = $1 AND key = $2 AND owner = $3 AND lease = $4 AND lease_until > $5 FOR UPDATE")
            .bind(&lock.instance)
            .bind(&lock.key)
            .bind(&lock.owner)
            .bind(lock.lease as i64)
            .bind(lock.now)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        if held.is_none() {
            return Err(StoreError::TimerLeaseLost {
                instance: lock.instance.clone(),
                key: lock.key.clone(),
                owner: lock.owner.clone(),
            });
        }
    }
    if let Some(lock) = &step.fence {
        let held = sqlx::query(
            "SELECT 1 FROM jobs WHERE instance_id = $1 AND task = $2 AND attempt = $3 AND owner = $4 AND lease_until > $5 AND ($6::BIGINT IS NULL OR lease = $6) FOR UPDATE",
        )
        .bind(&lock.job.instance)
        .bind(&lock.job.task)
        .bind(lock.job.attempt as i32)
        .bind(&lock.owner)
        .bind(lock.now)
        .bind(lock.lease.map(|l| l as i64))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        if held.is_none() {
            return Err(StoreError::LockNotHeld {
                job: lock.job.to_string(),
                owner: lock.owner.clone(),
            });
        }
    }
    if let Some((id, now)) = &step.consume_event {
        let buffered = sqlx::query("SELECT 1 FROM published_events WHERE id = $1 AND state = 'buffered' AND buffered_until > $2 FOR UPDATE")
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        if buffered.is_none() {
            return Err(StoreError::EventGone(id.clone()));
        }
    }
    Ok(())
}

/// How often a step tries again for the next number of a task's run (see `write_step`) before
/// it gives up with a conflict, which the engine retries as a whole.
const RUNTIME_NUMBER_TRIES: u32 = 64;

/// Writes one step.
pub(crate) async fn write_step(conn: &mut PgConnection, encoded: &EncodedStep) -> Result<()> {
    let step = &encoded.record;
    step.check_event_seqs()?;
    check_fences(conn, step).await?;
    if let (Some(start), Some(instance)) = (&step.start_key, &step.instance) {
        let taken = sqlx::query("INSERT INTO start_keys (key, instance_id, fingerprint, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING RETURNING key")
            .bind(&start.key)
            .bind(&instance.id)
            .bind(&start.fingerprint)
            .bind(instance.created_at)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?
            .is_none();
        if taken {
            let (instance, fingerprint): (String, String) =
                sqlx::query_as("SELECT instance_id, fingerprint FROM start_keys WHERE key = $1")
                    .bind(&start.key)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
            return Err(StoreError::StartKeyTaken {
                key: start.key.clone(),
                instance,
                fingerprint,
            });
        }
    }
    if let (Some(instance), Some(state)) = (&step.instance, &encoded.state) {
        let written = if step.new {
            sqlx::query(
                "INSERT INTO instances (id, definition_id, definition_version, status, created_at, updated_at, ended_at, seq, state_format, state, parent_id, case_id, root_id, work_status, link_kind, department)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&instance.id)
            .bind(&instance.definition_id)
            .bind(instance.definition_version as i32)
            .bind(instance.status.name())
            .bind(instance.created_at)
            .bind(instance.updated_at)
            .bind(instance.ended_at)
            .bind(instance.next_seq as i64)
            .bind(STATE_FORMAT as i32)
            .bind(state)
            .bind(instance.parent.as_ref().map(|p| p.instance.as_str()))
            .bind(instance.case_id())
            .bind(instance.root.as_deref())
            .bind(instance.work_status.as_deref())
            .bind(instance.parent.as_ref().map(|p| p.kind.name()))
            .bind(instance.department.as_deref())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?
            .rows_affected()
        } else {
            sqlx::query(
                "UPDATE instances SET status = $2, updated_at = $3, ended_at = $4, seq = $5, state_format = $6, state = $7, work_status = $9
                 WHERE id = $1 AND seq = $8",
            )
            .bind(&instance.id)
            .bind(instance.status.name())
            .bind(instance.updated_at)
            .bind(instance.ended_at)
            .bind(instance.next_seq as i64)
            .bind(STATE_FORMAT as i32)
            .bind(state)
            .bind(step.expected_seq as i64)
            .bind(instance.work_status.as_deref())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?
            .rows_affected()
        };
        match (step.new, written) {
            (true, 0) => return Err(StoreError::DuplicateInstance(instance.id.clone())),
            (false, 0) => return Err(StoreError::Conflict(instance.id.clone())),
            _ => {}
        }
        if let (Some(events), Some(first)) = (&encoded.events, step.events.first()) {
            sqlx::query("INSERT INTO history (instance_id, first_seq, events) VALUES ($1, $2, $3)")
                .bind(&instance.id)
                .bind(first.seq as i64)
                .bind(events)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
    }
    delete_attempts(
        conn,
        Attempts::Jobs,
        step.complete
            .iter()
            .map(|k| (&k.instance, &k.task, k.attempt)),
    )
    .await?;
    let queued_at = step
        .instance
        .as_ref()
        .map_or_else(Utc::now, |i| i.updated_at);
    for (job, request) in step.enqueue.iter().zip(&encoded.jobs) {
        // A new attempt replaces the old row; its lease number goes on growing.
        sqlx::query(
            "INSERT INTO jobs (instance_id, task, attempt, request, queued_at, owner, lease_until, topic) VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6)
             ON CONFLICT (instance_id, task) DO UPDATE SET attempt = EXCLUDED.attempt, request = EXCLUDED.request, queued_at = EXCLUDED.queued_at,
                 owner = NULL, lease_until = NULL, topic = EXCLUDED.topic",
        )
        .bind(&job.instance)
        .bind(&job.task)
        .bind(job.attempt as i32)
        .bind(request)
        .bind(queued_at)
        .bind(job.topic.as_deref())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    for (instance, key) in &step.clear_timers {
        sqlx::query("DELETE FROM timers WHERE instance_id = $1 AND key = $2")
            .bind(instance)
            .bind(key)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    for sample in &step.runtimes {
        // Keep the last ERT_RUNS runs per task: number them and drop the oldest. Nodes that
        // record a run of the same task at once race for the next number: the loser's insert
        // waits for the winner's commit, does nothing, and takes the number after (each
        // statement reads what is committed). Failing the step instead would drop a job's
        // result, and the job would run again when its lease expired.
        let mut tries = 0;
        let n: i64 = loop {
            let inserted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO task_runtimes (process_id, task, n, duration_ms)
                 SELECT $1, $2, COALESCE(MAX(n), 0) + 1, $3 FROM task_runtimes WHERE process_id = $1 AND task = $2
                 ON CONFLICT DO NOTHING RETURNING n",
            )
            .bind(&sample.process)
            .bind(&sample.task)
            .bind(sample.duration_ms.min(i64::MAX as u64) as i64)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            match inserted {
                Some(n) => break n,
                None if tries < RUNTIME_NUMBER_TRIES => tries += 1,
                None => {
                    return Err(StoreError::Conflict(format!(
                        "numbering a run of task `{}`: raced {tries} times",
                        sample.task
                    )))
                }
            }
        };
        sqlx::query("DELETE FROM task_runtimes WHERE process_id = $1 AND task = $2 AND n <= $3")
            .bind(&sample.process)
            .bind(&sample.task)
            .bind(n - baton_store::ERT_RUNS as i64)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    for (timer, payload) in step.set_timers.iter().zip(&encoded.timer_payloads) {
        // Set again, a timer is a new one: no one holds it (a claim of the old one is void).
        sqlx::query(
            "INSERT INTO timers (instance_id, key, due_at, payload) VALUES ($1, $2, $3, $4)
             ON CONFLICT (instance_id, key) DO UPDATE SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload, owner = NULL, lease_until = NULL",
        )
        .bind(&timer.instance)
        .bind(&timer.key)
        .bind(timer.due_at)
        .bind(payload)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    crate::records::write_inbox(conn, &step.inbox).await?;
    crate::records::write_incidents(conn, step).await?;
    crate::records::write_documents(conn, step).await?;
    for ((key, _), snapshot) in step.share_snapshots.iter().zip(&encoded.snapshots) {
        sqlx::query(
            "INSERT INTO foreach_snapshots (instance_id, task, attempt, snapshot) VALUES ($1, $2, $3, $4)
             ON CONFLICT (instance_id, task, attempt) DO UPDATE SET snapshot = EXCLUDED.snapshot",
        )
        .bind(&key.instance)
        .bind(&key.task)
        .bind(key.attempt as i32)
        .bind(snapshot)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    delete_attempts(
        conn,
        Attempts::Snapshots,
        step.drop_snapshots
            .iter()
            .map(|k| (&k.instance, &k.task, k.attempt)),
    )
    .await?;
    crate::correlation::write_subscriptions(conn, step).await?;
    Ok(())
}

/// The tables whose rows are keyed by instance, task and attempt.
enum Attempts {
    Jobs,
    Snapshots,
}

/// Deletes the rows of `table` that `keys` name, in one statement however many there are.
async fn delete_attempts<'a>(
    conn: &mut PgConnection,
    table: Attempts,
    keys: impl Iterator<Item = (&'a String, &'a String, u32)>,
) -> Result<()> {
    let (mut instances, mut tasks, mut attempts) = (Vec::new(), Vec::new(), Vec::new());
    for (instance, task, attempt) in keys {
        instances.push(instance.as_str());
        tasks.push(task.as_str());
        attempts.push(attempt as i32);
    }
    if instances.is_empty() {
        return Ok(());
    }
    let sql = match table {
        Attempts::Jobs => {
            "DELETE FROM jobs t USING UNNEST($1::text[], $2::text[], $3::int4[]) AS k(instance_id, task, attempt)
             WHERE t.instance_id = k.instance_id AND t.task = k.task AND t.attempt = k.attempt"
        }
        Attempts::Snapshots => {
            "DELETE FROM foreach_snapshots t USING UNNEST($1::text[], $2::text[], $3::int4[]) AS k(instance_id, task, attempt)
             WHERE t.instance_id = k.instance_id AND t.task = k.task AND t.attempt = k.attempt"
        }
    };
    sqlx::query(sql)
        .bind(&instances)
        .bind(&tasks)
        .bind(&attempts)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}
