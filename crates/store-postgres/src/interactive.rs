//! Sessions and interactive workflows on PostgreSQL: one row per open session, one per
//! interactive workflow that has not ended; each move between a cache and the inbox is one
//! conditional `UPDATE` (of two nodes racing to move one workflow, one moves it), and a
//! trigger on the instances table removes the row of a workflow in the step that completes or
//! aborts it.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use baton_store::{InteractiveStore, InteractiveWorkflow, Place, Result, SessionRecord, StoreError, Suspension};

use crate::{db_err, PgStore};

const COLUMNS: &str = "instance_id, owner, process, auto_persist, session_id, suspended_at, why, note";

fn workflow(row: &PgRow) -> Result<InteractiveWorkflow> {
    let get = |e: sqlx::Error| db_err(e);
    let place = Place::from_columns(row.try_get(4).map_err(get)?, row.try_get(5).map_err(get)?, row.try_get(6).map_err(get)?, row.try_get(7).map_err(get)?)
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
    async fn workflows_where(&self, condition: &str, value: &str, limit: i64) -> Result<Vec<InteractiveWorkflow>> {
        let sql = format!("SELECT {COLUMNS} FROM interactive_workflows WHERE {condition} LIMIT $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).bind(limit).fetch_all(self.pool()).await.map_err(db_err)?;
        rows.iter().map(workflow).collect()
    }

    async fn changed_one(&self, query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>) -> Result<bool> {
        Ok(query.execute(self.pool()).await.map_err(db_err)?.rows_affected() == 1)
    }
}

impl InteractiveStore for PgStore {
    async fn open_session(&self, session: &SessionRecord) -> Result<()> {
        sqlx::query("INSERT INTO interactive_sessions (id, user_name, created_at) VALUES ($1, $2, $3)")
            .bind(&session.id)
            .bind(&session.user)
            .bind(session.created_at)
            .execute(self.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn close_session(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM interactive_sessions WHERE id = $1").bind(id).execute(self.pool()).await.map_err(db_err)?;
        Ok(())
    }

    async fn open_sessions(&self) -> Result<Vec<SessionRecord>> {
        let rows: Vec<(String, String, DateTime<Utc>)> =
            sqlx::query_as("SELECT id, user_name, created_at FROM interactive_sessions ORDER BY created_at, id").fetch_all(self.pool()).await.map_err(db_err)?;
        Ok(rows.into_iter().map(|(id, user, created_at)| SessionRecord { id, user, created_at }).collect())
    }

    async fn add_workflow(&self, w: &InteractiveWorkflow) -> Result<bool> {
        let (session, since, why, note) = w.place.columns();
        let sql = format!("INSERT INTO interactive_workflows ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (instance_id) DO NOTHING");
        self.changed_one(
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&w.instance).bind(&w.owner).bind(&w.process).bind(w.auto_persist).bind(session).bind(since).bind(why).bind(note),
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

    async fn put_in_inbox(&self, instance: &str, session: &str, why: Suspension, note: Option<&str>, now: DateTime<Utc>) -> Result<bool> {
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
        self.changed_one(sqlx::query("DELETE FROM interactive_workflows WHERE instance_id = $1 AND session_id = $2").bind(instance).bind(session)).await
    }

    async fn interactive_workflow(&self, instance: &str) -> Result<Option<InteractiveWorkflow>> {
        Ok(self.workflows_where("instance_id = $1", instance, 1).await?.pop())
    }

    async fn cached_workflows(&self, session: &str) -> Result<Vec<InteractiveWorkflow>> {
        self.workflows_where("session_id = $1 ORDER BY instance_id", session, i64::MAX).await
    }

    async fn suspended_workflows(&self, owner: &str, limit: usize) -> Result<Vec<InteractiveWorkflow>> {
        self.workflows_where("owner = $1 AND session_id IS NULL ORDER BY suspended_at DESC, instance_id", owner, limit.min(i64::MAX as usize) as i64).await
    }
}
