//! What a step writes beside the instance and its queues (inbox rows, incidents, document
//! references and copies), and the readers of incidents, ForEach snapshots and queue depths.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use baton_core::instance::ForEachSnapshot;
use baton_store::{
    DepartmentScope, InboxUpdate, Incident, IncidentKind, IncidentReader, IncidentUpdate,
    QueueDepths, QueueStats, Result, SnapshotKey, SnapshotReader, StepRecord, StoreError,
    TopicJobs,
};

use crate::{db_err, PgStore};

/// Replaces the inbox rows of each user task a step changed.
pub(crate) async fn write_inbox(conn: &mut PgConnection, updates: &[InboxUpdate]) -> Result<()> {
    for update in updates {
        sqlx::query("DELETE FROM inbox_tasks WHERE instance_id = $1 AND task = $2")
            .bind(&update.instance)
            .bind(&update.task)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        sqlx::query("DELETE FROM inbox_candidates WHERE instance_id = $1 AND task = $2")
            .bind(&update.instance)
            .bind(&update.task)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        for e in &update.entries {
            let due = baton_store::inbox::due_key(e.due);
            sqlx::query(
                "INSERT INTO inbox_tasks (instance_id, task, human_task, process_id, title, status, owner, priority, due_key, created_at, escalated, department)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&e.instance)
            .bind(&e.task)
            .bind(e.human_task.0 as i32)
            .bind(&e.process)
            .bind(&e.title)
            .bind(&e.status)
            .bind(e.owner.as_deref())
            .bind(e.priority)
            .bind(&due)
            .bind(e.created_at)
            .bind(e.escalated)
            .bind(e.department.as_deref())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            // A claimed task is its owner's; only unclaimed ones are offered.
            if e.owner.is_some() {
                continue;
            }
            for who in baton_store::inbox::candidate_names(&e.potential_owners, &e.administrators) {
                sqlx::query(
                    "INSERT INTO inbox_candidates (who, status, priority, due_key, created_at, instance_id, task, human_task, process_id, escalated, department)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
                )
                .bind(who)
                .bind(&e.status)
                .bind(e.priority)
                .bind(&due)
                .bind(e.created_at)
                .bind(&e.instance)
                .bind(&e.task)
                .bind(e.human_task.0 as i32)
                .bind(&e.process)
                .bind(e.escalated)
                .bind(e.department.as_deref())
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            }
        }
    }
    Ok(())
}

pub(crate) async fn write_incidents(conn: &mut PgConnection, step: &StepRecord) -> Result<()> {
    for incident in &step.raise_incidents {
        sqlx::query("INSERT INTO incidents (instance_id, task, kind, reason, command, attempts, raised_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&incident.instance)
            .bind(incident.task.as_deref())
            .bind(incident.kind.name())
            .bind(&incident.reason)
            .bind(incident.command.as_ref().map(serde_json::Value::to_string))
            .bind(incident.attempts as i32)
            .bind(incident.at)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    for update in &step.incident_updates {
        match update {
            IncidentUpdate::Close { id, by, resolution, at } => sqlx::query("UPDATE incidents SET resolved_at = $2, resolved_by = $3, resolution = $4 WHERE id = $1 AND resolved_at IS NULL")
                .bind(id)
                .bind(at)
                .bind(by)
                .bind(resolution),
            IncidentUpdate::Failed { id, reason, attempts } => {
                sqlx::query("UPDATE incidents SET attempts = attempts + $3, reason = $2 WHERE id = $1 AND resolved_at IS NULL").bind(id).bind(reason).bind(*attempts as i32)
            }
        }
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// The index of the documents an instance refers to, and the copies a step makes.
pub(crate) async fn write_documents(conn: &mut PgConnection, step: &StepRecord) -> Result<()> {
    if let (Some(documents), Some(instance)) = (&step.documents, &step.instance) {
        if !step.new {
            sqlx::query("DELETE FROM document_refs WHERE instance_id = $1")
                .bind(&instance.id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
        for document in documents {
            sqlx::query("INSERT INTO document_refs (document_id, instance_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(document)
                .bind(&instance.id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
    }
    for copy in &step.copy_documents {
        sqlx::query(
            "INSERT INTO documents (id, name, document_type, content_type, size, sha256, created_by, created_at, version, updated_at, metadata)
             SELECT $2, name, document_type, content_type, size, sha256, $3, $4, 1, $4, '{}' FROM documents WHERE id = $1 ON CONFLICT DO NOTHING",
        )
        .bind(&copy.from)
        .bind(&copy.to)
        .bind(&copy.by)
        .bind(copy.at)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

const INCIDENT_COLUMNS: &str = "id, instance_id, task, kind, reason, command, attempts, raised_at, resolved_at, resolved_by, resolution";

fn incident(row: &sqlx::postgres::PgRow) -> Result<Incident> {
    let bad =
        |message: String| StoreError::internal(format!("an incident cannot be read: {message}"));
    let get = |e: sqlx::Error| bad(e.to_string());
    let kind: String = row.try_get(3).map_err(get)?;
    let command: Option<String> = row.try_get(5).map_err(get)?;
    Ok(Incident {
        id: row.try_get(0).map_err(get)?,
        instance: row.try_get(1).map_err(get)?,
        task: row.try_get(2).map_err(get)?,
        kind: IncidentKind::parse(&kind)
            .ok_or_else(|| bad(format!("unknown incident kind {kind}")))?,
        reason: row.try_get(4).map_err(get)?,
        command: command
            .map(|c| serde_json::from_str(&c))
            .transpose()
            .map_err(|e| bad(e.to_string()))?,
        attempts: row.try_get::<i32, _>(6).map_err(get)? as u32,
        raised_at: row.try_get(7).map_err(get)?,
        resolved_at: row.try_get(8).map_err(get)?,
        resolved_by: row.try_get(9).map_err(get)?,
        resolution: row.try_get(10).map_err(get)?,
    })
}

impl IncidentReader for PgStore {
    async fn incident(&self, id: i64) -> Result<Option<Incident>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(incident).transpose()
    }

    async fn incidents(&self, instance: &str) -> Result<Vec<Incident>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE instance_id = $1 ORDER BY id"
        )))
        .bind(instance)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(incident).collect()
    }

    async fn open_incidents_in(
        &self,
        scope: &DepartmentScope,
        limit: usize,
    ) -> Result<Vec<Incident>> {
        let (mode, department) = scope.sql_params();
        let columns = INCIDENT_COLUMNS
            .split(", ")
            .map(|c| format!("incidents.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM incidents LEFT JOIN instances ON instances.id = incidents.instance_id
             WHERE incidents.resolved_at IS NULL AND ($2 = 0 OR instances.department IS NULL OR ($2 = 2 AND instances.department = $3))
             ORDER BY incidents.id LIMIT $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit.min(i64::MAX as usize) as i64)
            .bind(mode)
            .bind(department)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(incident).collect()
    }
}

impl SnapshotReader for PgStore {
    async fn snapshot(&self, key: &SnapshotKey) -> Result<Option<ForEachSnapshot>> {
        let stored: Option<String> = sqlx::query_scalar("SELECT snapshot FROM foreach_snapshots WHERE instance_id = $1 AND task = $2 AND attempt = $3")
            .bind(&key.instance)
            .bind(&key.task)
            .bind(key.attempt as i32)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        let corrupt = |e: serde_json::Error| StoreError::CorruptState {
            instance: key.instance.clone(),
            message: format!(
                "the snapshot of ForEach task `{}` attempt {}: {e}",
                key.task, key.attempt
            ),
        };
        stored
            .map(|s| serde_json::from_str(&s).map_err(corrupt))
            .transpose()
    }
}

impl QueueStats for PgStore {
    async fn queue_depths(&self, now: DateTime<Utc>) -> Result<QueueDepths> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT COALESCE(topic, '') AS t, COUNT(*) FILTER (WHERE owner IS NULL), COUNT(*) FILTER (WHERE owner IS NOT NULL) FROM jobs GROUP BY t ORDER BY t",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let timers_due: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM timers WHERE due_at <= $1")
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        let jobs = rows
            .into_iter()
            .map(|(topic, queued, leased)| TopicJobs {
                topic,
                queued: queued as usize,
                leased: leased as usize,
            })
            .collect();
        Ok(QueueDepths {
            jobs,
            timers_due: timers_due as usize,
        })
    }
}
