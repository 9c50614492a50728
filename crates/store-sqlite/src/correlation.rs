//! Event correlation on SQLite: subscriptions written with the steps that begin and end a
//! `wait`, looked up through `(name, key)`; published events remembered by id and buffered
//! through partial indexes that hold only the rows a lookup wants (buffered, pending).
//!
//! A key is stored as text, the empty text for "no key" (a correlation key is never empty), so
//! every lookup is an equality the index answers.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use baton_store::{
    Buffering, CorrelationStore, EventState, PublishedEvent, Recorded, Result, StepRecord,
    StoreError, Subscriber,
};

use crate::writer::Failure;
use crate::{db_err, other_err, parse_ts, ts, SqliteStore};

fn stored_key(key: Option<&str>) -> &str {
    key.unwrap_or("")
}

/// A step that consumes a buffered event commits only while the event is still buffered and
/// alive: checked before the step's first write.
pub(crate) fn check_consumed(conn: &Connection, step: &StepRecord) -> Result<()> {
    let Some((id, now)) = &step.consume_event else {
        return Ok(());
    };
    let buffered = conn
        .prepare_cached("SELECT 1 FROM published_events WHERE id = ?1 AND state = 'buffered' AND buffered_until > ?2")
        .and_then(|mut s| s.exists(params![id, ts(*now)]))
        .map_err(db_err)?;
    if buffered {
        Ok(())
    } else {
        Err(StoreError::EventGone(id.clone()))
    }
}

/// Writes a step's subscription changes, and marks the event it consumed delivered.
pub(crate) fn write_subscriptions(
    conn: &Connection,
    step: &StepRecord,
) -> std::result::Result<(), Failure> {
    for (instance, task) in &step.unsubscribe {
        conn.prepare_cached("DELETE FROM event_subscriptions WHERE instance_id = ?1 AND task = ?2")
            .and_then(|mut s| s.execute(params![instance, task]))
            .map_err(db_err)?;
    }
    for sub in &step.subscribe {
        conn.prepare_cached("INSERT OR REPLACE INTO event_subscriptions (name, key, instance_id, task) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![sub.event, stored_key(sub.key.as_deref()), sub.instance, sub.task]))
            .map_err(db_err)?;
    }
    if let Some((id, _)) = &step.consume_event {
        conn.prepare_cached("UPDATE published_events SET state = 'delivered', resumed = resumed + 1, data = '{}' WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(db_err)?;
    }
    Ok(())
}

const COLUMNS: &str =
    "id, name, key, data, published_at, state, buffered_until, remember_until, resumed";

fn published(row: &rusqlite::Row) -> rusqlite::Result<PublishedEvent> {
    let bad = |e: Box<dyn std::error::Error + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e)
    };
    let key: String = row.get(2)?;
    let data: String = row.get(3)?;
    let state: String = row.get(5)?;
    let buffered_until: Option<String> = row.get(6)?;
    Ok(PublishedEvent {
        id: row.get(0)?,
        name: row.get(1)?,
        key: (!key.is_empty()).then_some(key),
        data: serde_json::from_str(&data).map_err(|e| bad(Box::new(e)))?,
        published_at: parse_ts(&row.get::<_, String>(4)?)?,
        state: EventState::parse(&state)
            .ok_or_else(|| bad(format!("unknown event state {state}").into()))?,
        buffered_until: buffered_until.as_deref().map(parse_ts).transpose()?,
        remember_until: parse_ts(&row.get::<_, String>(7)?)?,
        resumed: row.get(8)?,
    })
}

fn find(conn: &Connection, id: &str) -> rusqlite::Result<Option<PublishedEvent>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM published_events WHERE id = ?1"
    ))?
    .query_row([id], published)
    .optional()
}

impl CorrelationStore for SqliteStore {
    async fn record_event(&self, event: &PublishedEvent, now: DateTime<Utc>) -> Result<Recorded> {
        let event = event.clone();
        let data = serde_json::to_string(&event.data).map_err(other_err)?;
        self.write(move |conn| {
            if let Some(earlier) = find(conn, &event.id).map_err(db_err)? {
                if earlier.remember_until > now {
                    return Ok(Recorded::Duplicate(earlier));
                }
                conn.execute("DELETE FROM published_events WHERE id = ?1", [&event.id]).map_err(db_err)?;
            }
            conn.prepare_cached(
                "INSERT INTO published_events (id, name, key, data, published_at, state, buffered_until, remember_until, resumed) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', NULL, ?6, 0)",
            )
            .and_then(|mut s| s.execute(params![event.id, event.name, stored_key(event.key.as_deref()), data, ts(event.published_at), ts(event.remember_until)]))
            .map_err(db_err)?;
            Ok(Recorded::New)
        })
        .await
    }

    async fn subscribers(&self, event: &str, key: Option<&str>) -> Result<Vec<Subscriber>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT id, instance_id, task FROM event_subscriptions WHERE name = ?1 AND key = ?2 ORDER BY id")?
                .query_map(params![event, stored_key(key)], |r| Ok(Subscriber { id: r.get(0)?, instance: r.get(1)?, task: r.get(2)? }))?
                .collect()
        })
    }

    async fn buffer_event(
        &self,
        id: &str,
        until: DateTime<Utc>,
        seen: i64,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Buffering> {
        let id = id.to_owned();
        self.write(move |conn| {
            let Some(event) = find(conn, &id).map_err(db_err)? else { return Ok(Buffering::Buffered) };
            let newer = conn
                .prepare_cached("SELECT 1 FROM event_subscriptions WHERE name = ?1 AND key = ?2 AND id > ?3")
                .and_then(|mut s| s.exists(params![event.name, stored_key(event.key.as_deref()), seen]))
                .map_err(db_err)?;
            if newer {
                return Ok(Buffering::NewSubscribers);
            }
            let buffered: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM published_events WHERE state = 'buffered' AND buffered_until > ?1")
                .and_then(|mut s| s.query_row([ts(now)], |r| r.get(0)))
                .map_err(db_err)?;
            if buffered as usize >= limit {
                conn.execute("DELETE FROM published_events WHERE id = ?1", [&id]).map_err(db_err)?;
                return Ok(Buffering::Full { limit });
            }
            conn.prepare_cached("UPDATE published_events SET state = 'buffered', buffered_until = ?2 WHERE id = ?1 AND state = 'pending'")
                .and_then(|mut s| s.execute(params![id, ts(until)]))
                .map_err(db_err)?;
            Ok(Buffering::Buffered)
        })
        .await
    }

    async fn settle_event(&self, id: &str, resumed: u32) -> Result<()> {
        let id = id.to_owned();
        self.write(move |conn| {
            conn.prepare_cached("UPDATE published_events SET state = 'delivered', resumed = resumed + ?2, data = '{}' WHERE id = ?1 AND state = 'pending'")
                .and_then(|mut s| s.execute(params![id, resumed]))
                .map(|_| ())
                .map_err(db_err)
        })
        .await
    }

    async fn published_event(&self, id: &str) -> Result<Option<PublishedEvent>> {
        self.read(|conn| find(conn, id))
    }

    async fn buffered_events(
        &self,
        event: &str,
        key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<PublishedEvent>> {
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM published_events WHERE name = ?1 AND key = ?2 AND state = 'buffered' AND buffered_until > ?3 ORDER BY seq"
            ))?
            .query_map(params![event, stored_key(key), ts(now)], published)?
            .collect()
        })
    }

    async fn buffered_matches(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(String, Option<String>)>> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT DISTINCT e.name, e.key FROM published_events e
                 WHERE e.state = 'buffered' AND e.buffered_until > ?1
                   AND EXISTS (SELECT 1 FROM event_subscriptions s WHERE s.name = e.name AND s.key = e.key)
                 LIMIT ?2",
            )?
            .query_map(params![ts(now), limit as i64], |r| {
                let key: String = r.get(1)?;
                Ok((r.get(0)?, (!key.is_empty()).then_some(key)))
            })?
            .collect()
        })
    }

    async fn stale_pending(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PublishedEvent>> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM published_events WHERE state = 'pending' AND published_at < ?1 ORDER BY published_at LIMIT ?2"))?
                .query_map(params![ts(before), limit as i64], published)?
                .collect()
        })
    }

    async fn purge_events(&self, now: DateTime<Utc>) -> Result<usize> {
        self.write(move |conn| {
            let now = ts(now);
            let expired = conn
                .prepare_cached("UPDATE published_events SET state = 'expired', data = '{}' WHERE state = 'buffered' AND buffered_until <= ?1")
                .and_then(|mut s| s.execute([&now]))
                .map_err(db_err)?;
            let forgotten = conn
                .prepare_cached("DELETE FROM published_events WHERE remember_until <= ?1 AND state <> 'pending'")
                .and_then(|mut s| s.execute([&now]))
                .map_err(db_err)?;
            Ok(expired + forgotten)
        })
        .await
    }

    async fn buffered_count(&self, now: DateTime<Utc>) -> Result<usize> {
        self.read(|conn| {
            conn.prepare_cached("SELECT COUNT(*) FROM published_events WHERE state = 'buffered' AND buffered_until > ?1")?
                .query_row([ts(now)], |r| r.get::<_, i64>(0))
                .map(|n| n as usize)
        })
    }
}
