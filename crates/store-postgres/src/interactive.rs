//! Sessions and interactive workflows on PostgreSQL: one row per open session, one per
//! interactive workflow that has not ended; each move between a cache and the inbox is one
//! conditional `UPDATE` (of two nodes racing to move one workflow, one moves it), and a
//! trigger on the instances table removes the row of a workflow in the step that completes or
//! aborts it.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use baton_store::{
    InteractiveStore, InteractiveWorkflow, Orphans, Place, Result, SessionRecord, StoreError,
    Suspension,
};

use crate::{db_err, PgStore};

const COLUMNS: &str =
    "instance_id, owner, process, auto_persist, session_id, suspended_at, why, note";

type SessionRow = (String, String, DateTime<Utc>, String);

fn session_record((id, user, created_at, node): SessionRow) -> SessionRecord {
    SessionRecord {
        id,
        user,
        created_at,
        node,
    }
}

fn workflow(row: &PgRow) -> Result<InteractiveWorkflow> {
    let get = |e: sqlx::Error| db_err(e);
    let place = Place::from_columns(
        row.try_get(4).map_err(get)?,
        row.try_get(5).map_err(get)?,
        row.try_get(6).map_err(get)?,
        row.try_get(7).map_err(get)?,
    )
    .map_err(|e| StoreError::internal(format!("an interactive workflow cannot be read: {e}")))?;
    Ok(InteractiveWorkflow {
        instance: row.try_get(0).map_err(get)?,
        owner: row.try_get(1).map_err(get)?,
        process: row.try_get(2).map_err(get)?,
        auto_persist: row.try_get(3).map_err(get)?,
        place,
    })
}

impl PgStore {
    async fn workflows_where(
        &self,
        condition: &str,
        value: &str,
        limit: i64,
    ) -> Result<Vec<InteractiveWorkflow>> {
        let sql = format!("SELECT {COLUMNS} FROM interactive_workflows WHERE {condition} LIMIT $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(value)
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .map_err(db_err)?;
        rows.iter().map(workflow).collect()
    }

    async fn changed_one(
        &self,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<bool> {
        Ok(query
            .execute(self.pool())
            .await
            .map_err(db_err)?
            .rows_affected()
            == 1)
    }
}

impl InteractiveStore for PgStore {
    async fn open_session(&self, session: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO interactive_sessions (id, user_name, created_at, node) VALUES ($1, $2, $3, $4)",
        )
        .bind(&session.id)
        .bind(&session.user)
        .bind(session.created_at)
        .bind(&session.node)
        .execute(self.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn close_session(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM interactive_sessions WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn open_sessions(&self) -> Result<Vec<SessionRecord>> {
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT id, user_name, created_at, node FROM interactive_sessions ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(session_record).collect())
    }

    async fn renew_node(&self, node: &str, until: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO nodes (id, lease_until) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET lease_until = EXCLUDED.lease_until")
            .bind(node)
            .bind(until)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn take_over_sessions(
        &self,
        node: &str,
        which: Orphans,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionRecord>> {
        // The rows are locked as they are chosen (`SKIP LOCKED`: a node taking over at the
        // same time passes them by), and a node that chose them before another's takeover
        // committed finds them, rechecked, held by a live node: one node takes each.
        let mut rows: Vec<SessionRecord> = sqlx::query_as::<_, SessionRow>(
            "WITH orphaned AS (
                SELECT id, node FROM interactive_sessions s
                WHERE $3 = 2 OR ($3 = 1 AND node = $1)
                   OR (node <> $1 AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = s.node AND n.lease_until > $2))
                FOR UPDATE SKIP LOCKED)
            UPDATE interactive_sessions s SET node = $1 FROM orphaned o WHERE s.id = o.id
            RETURNING s.id, s.user_name, s.created_at, o.node",
        )
        .bind(node)
        .bind(now)
        .bind(which.code())
        .fetch_all(self.pool())
        .await
        .map_err(db_err)?
        .into_iter()
        .map(session_record)
        .collect();
        rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        // A node gone for good needs no row: one that was only late renews it again.
        sqlx::query("DELETE FROM nodes WHERE lease_until <= $1")
            .bind(now)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(rows)
    }

    async fn add_workflow(&self, w: &InteractiveWorkflow) -> Result<bool> {
        let (session, since, why, note) = w.place.columns();
        let sql = format!("INSERT INTO interactive_workflows ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (instance_id) DO NOTHING");
        self.changed_one(
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&w.instance)
                .bind(&w.owner)
                .bind(&w.process)
                .bind(w.auto_persist)
                .bind(session)
                .bind(since)
                .bind(why)
                .bind(note),
        )
        .await
    }

    async fn take_from_inbox(&self, instance: &str, owner: &str, session: &str) -> Result<bool> {
        self.changed_one(
            sqlx::query(
                "UPDATE interactive_workflows SET session_id = $3, suspended_at = NULL, why = NULL, note = NULL WHERE instance_id = $1 AND owner = $2 AND session_id IS NULL",
            )
            .bind(instance)
            .bind(owner)
            .bind(session),
        )
        .await
    }

    async fn put_in_inbox(
        &self,
        instance: &str,
        session: &str,
        why: Suspension,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.changed_one(
            sqlx::query("UPDATE interactive_workflows SET session_id = NULL, suspended_at = $3, why = $4, note = $5 WHERE instance_id = $1 AND session_id = $2")
                .bind(instance)
                .bind(session)
                .bind(now)
                .bind(why.name())
                .bind(note),
        )
        .await
    }

    async fn forget_workflow(&self, instance: &str, session: &str) -> Result<bool> {
        self.changed_one(
            sqlx::query(
                "DELETE FROM interactive_workflows WHERE instance_id = $1 AND session_id = $2",
            )
            .bind(instance)
            .bind(session),
        )
        .await
    }

    async fn interactive_workflow(&self, instance: &str) -> Result<Option<InteractiveWorkflow>> {
        Ok(self
            .workflows_where("instance_id = $1", instance, 1)
            .await?
            .pop())
    }

    async fn cached_workflows(&self, session: &str) -> Result<Vec<InteractiveWorkflow>> {
        self.workflows_where("session_id = $1 ORDER BY instance_id", session, i64::MAX)
            .await
    }

    async fn suspended_workflows(
        &self,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<InteractiveWorkflow>> {
        self.workflows_where(
            "owner = $1 AND session_id IS NULL ORDER BY suspended_at DESC, instance_id",
            owner,
            limit.min(i64::MAX as usize) as i64,
        )
        .await
    }
}
