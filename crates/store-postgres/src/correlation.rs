//! Event correlation on PostgreSQL: subscriptions written with the steps that begin and end a
//! `wait`, looked up by `(name, key)`; published events remembered by id and buffered, as on
//! SQLite. A key is stored as text, the empty text for "no key" (a correlation key is never
//! empty). What SQLite's single writer serializes, a row lock does here: a publication of an
//! id locks the id's row (or, for a new id, takes a transaction-scoped lock on it).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use baton_store::{
    Buffering, CorrelationStore, EventState, PublishedEvent, Recorded, Result, StepRecord,
    StoreError, Subscriber,
};

use crate::{db_err, other_err, PgStore};

fn stored_key(key: Option<&str>) -> &str {
    key.unwrap_or("")
}

/// Writes a step's subscription changes, and marks the event it consumed delivered.
pub(crate) async fn write_subscriptions(conn: &mut PgConnection, step: &StepRecord) -> Result<()> {
    for (instance, task) in &step.unsubscribe {
        sqlx::query("DELETE FROM event_subscriptions WHERE instance_id = $1 AND task = $2")
            .bind(instance)
            .bind(task)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    for sub in &step.subscribe {
        // Replaced, not updated: a new subscription gets a new id (publishers compare ids).
        sqlx::query("DELETE FROM event_subscriptions WHERE instance_id = $1 AND task = $2")
            .bind(&sub.instance)
            .bind(&sub.task)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        sqlx::query("INSERT INTO event_subscriptions (name, key, instance_id, task) VALUES ($1, $2, $3, $4)")
            .bind(&sub.event)
            .bind(stored_key(sub.key.as_deref()))
            .bind(&sub.instance)
            .bind(&sub.task)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    if let Some((id, _)) = &step.consume_event {
        sqlx::query("UPDATE published_events SET state = 'delivered', resumed = resumed + 1, data = '{}' WHERE id = $1").bind(id).execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

const COLUMNS: &str =
    "id, name, key, data, published_at, state, buffered_until, remember_until, resumed";

fn published(row: &sqlx::postgres::PgRow) -> Result<PublishedEvent> {
    let get =
        |e: sqlx::Error| StoreError::internal(format!("a published event cannot be read: {e}"));
    let key: String = row.try_get(2).map_err(get)?;
    let data: String = row.try_get(3).map_err(get)?;
    let state: String = row.try_get(5).map_err(get)?;
    Ok(PublishedEvent {
        id: row.try_get(0).map_err(get)?,
        name: row.try_get(1).map_err(get)?,
        key: (!key.is_empty()).then_some(key),
        data: serde_json::from_str(&data).map_err(other_err)?,
        published_at: row.try_get(4).map_err(get)?,
        state: EventState::parse(&state)
            .ok_or_else(|| StoreError::internal(format!("unknown event state {state}")))?,
        buffered_until: row.try_get(6).map_err(get)?,
        remember_until: row.try_get(7).map_err(get)?,
        resumed: row.try_get::<i32, _>(8).map_err(get)? as u32,
    })
}

async fn find(conn: &mut PgConnection, id: &str, lock: bool) -> Result<Option<PublishedEvent>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM published_events WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    row.as_ref().map(published).transpose()
}

/// Serializes the writers of one event id within a transaction (also before its row exists).
async fn lock_id(conn: &mut PgConnection, id: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('published_events/' || $1))")
        .bind(id)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

fn limit(n: usize) -> i64 {
    n.min(i64::MAX as usize) as i64
}

impl CorrelationStore for PgStore {
    async fn record_event(&self, event: &PublishedEvent, now: DateTime<Utc>) -> Result<Recorded> {
        let data = serde_json::to_string(&event.data).map_err(other_err)?;
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        lock_id(&mut tx, &event.id).await?;
        if let Some(earlier) = find(&mut tx, &event.id, true).await? {
            if earlier.remember_until > now {
                return Ok(Recorded::Duplicate(earlier));
            }
            sqlx::query("DELETE FROM published_events WHERE id = $1")
                .bind(&event.id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        sqlx::query(
            "INSERT INTO published_events (id, name, key, data, published_at, state, buffered_until, remember_until, resumed) VALUES ($1, $2, $3, $4, $5, 'pending', NULL, $6, 0)",
        )
        .bind(&event.id)
        .bind(&event.name)
        .bind(stored_key(event.key.as_deref()))
        .bind(data)
        .bind(event.published_at)
        .bind(event.remember_until)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Recorded::New)
    }

    async fn subscribers(&self, event: &str, key: Option<&str>) -> Result<Vec<Subscriber>> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as("SELECT id, instance_id, task FROM event_subscriptions WHERE name = $1 AND key = $2 ORDER BY id")
            .bind(event)
            .bind(stored_key(key))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, instance, task)| Subscriber { id, instance, task })
            .collect())
    }

    async fn buffer_event(
        &self,
        id: &str,
        until: DateTime<Utc>,
        seen: i64,
        limit_: usize,
        now: DateTime<Utc>,
    ) -> Result<Buffering> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        lock_id(&mut tx, id).await?;
        // Buffering is counted against one limit across nodes: one buffers at a time.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('published_events/buffer'))")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let Some(event) = find(&mut tx, id, true).await? else {
            return Ok(Buffering::Buffered);
        };
        let newer = sqlx::query(
            "SELECT 1 FROM event_subscriptions WHERE name = $1 AND key = $2 AND id > $3 LIMIT 1",
        )
        .bind(&event.name)
        .bind(stored_key(event.key.as_deref()))
        .bind(seen)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if newer.is_some() {
            return Ok(Buffering::NewSubscribers);
        }
        let buffered: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM published_events WHERE state = 'buffered' AND buffered_until > $1").bind(now).fetch_one(&mut *tx).await.map_err(db_err)?;
        if buffered as usize >= limit_ {
            sqlx::query("DELETE FROM published_events WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            return Ok(Buffering::Full { limit: limit_ });
        }
        sqlx::query("UPDATE published_events SET state = 'buffered', buffered_until = $2 WHERE id = $1 AND state = 'pending'")
            .bind(id)
            .bind(until)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Buffering::Buffered)
    }

    async fn settle_event(&self, id: &str, resumed: u32) -> Result<()> {
        sqlx::query("UPDATE published_events SET state = 'delivered', resumed = resumed + $2, data = '{}' WHERE id = $1 AND state = 'pending'")
            .bind(id)
            .bind(resumed as i32)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn published_event(&self, id: &str) -> Result<Option<PublishedEvent>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        find(&mut conn, id, false).await
    }

    async fn buffered_events(
        &self,
        event: &str,
        key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<PublishedEvent>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM published_events WHERE name = $1 AND key = $2 AND state = 'buffered' AND buffered_until > $3 ORDER BY seq")))
            .bind(event)
            .bind(stored_key(key))
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(published).collect()
    }

    async fn buffered_matches(
        &self,
        now: DateTime<Utc>,
        limit_: usize,
    ) -> Result<Vec<(String, Option<String>)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT e.name, e.key FROM published_events e
             WHERE e.state = 'buffered' AND e.buffered_until > $1
               AND EXISTS (SELECT 1 FROM event_subscriptions s WHERE s.name = e.name AND s.key = e.key)
             LIMIT $2",
        )
        .bind(now)
        .bind(limit(limit_))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(name, key)| (name, (!key.is_empty()).then_some(key)))
            .collect())
    }

    async fn stale_pending(
        &self,
        before: DateTime<Utc>,
        limit_: usize,
    ) -> Result<Vec<PublishedEvent>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM published_events WHERE state = 'pending' AND published_at < $1 ORDER BY published_at LIMIT $2")))
            .bind(before)
            .bind(limit(limit_))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(published).collect()
    }

    async fn purge_events(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let expired = sqlx::query("UPDATE published_events SET state = 'expired', data = '{}' WHERE state = 'buffered' AND buffered_until <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        let forgotten = sqlx::query(
            "DELETE FROM published_events WHERE remember_until <= $1 AND state <> 'pending'",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        tx.commit().await.map_err(db_err)?;
        Ok((expired + forgotten) as usize)
    }

    async fn buffered_count(&self, now: DateTime<Utc>) -> Result<usize> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM published_events WHERE state = 'buffered' AND buffered_until > $1").bind(now).fetch_one(&self.pool).await.map_err(db_err)?;
        Ok(n as usize)
    }
}
