//! [`ScheduleStore`] on SQLite (migration `20261208_0021_schedules.sql`). Writes go through
//! the single writer, so a place's compare-and-set and its slot's record are one request.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use baton_store::schedule::{SchedulePlace, ScheduleStore, SlotRecord, StoredSchedule};
use baton_store::Result;

use crate::{other_err, parse_ts, ts, SqliteStore};

const COLUMNS: &str = "id, process, spec, from_definition, created_by, created_at, paused, next_at, last_instance, buffered";

fn json_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

fn time(row: &rusqlite::Row, i: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    row.get::<_, Option<String>>(i)?
        .map(|t| parse_ts(&t))
        .transpose()
}

fn schedule_row(row: &rusqlite::Row) -> rusqlite::Result<StoredSchedule> {
    Ok(StoredSchedule {
        id: row.get(0)?,
        process: row.get(1)?,
        spec: serde_json::from_str(&row.get::<_, String>(2)?).map_err(json_err)?,
        from_definition: row.get(3)?,
        created_by: row.get(4)?,
        created_at: parse_ts(&row.get::<_, String>(5)?)?,
        paused: row.get(6)?,
        place: SchedulePlace {
            next_at: time(row, 7)?,
            last_instance: row.get(8)?,
            buffered: time(row, 9)?,
        },
    })
}

fn insert(conn: &Connection, s: &StoredSchedule) -> Result<()> {
    let spec = serde_json::to_string(&s.spec).map_err(other_err)?;
    conn.prepare_cached(&format!(
        "INSERT INTO schedules ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))
    .and_then(|mut st| {
        st.execute(params![
            s.id,
            s.process,
            spec,
            s.from_definition,
            s.created_by,
            ts(s.created_at),
            s.paused,
            s.place.next_at.map(ts),
            s.place.last_instance,
            s.place.buffered.map(ts)
        ])
    })
    .map_err(crate::db_err)?;
    Ok(())
}

fn delete(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("DELETE FROM schedule_slots WHERE schedule_id = ?1")?
        .execute([id])?;
    Ok(conn
        .prepare_cached("DELETE FROM schedules WHERE id = ?1")?
        .execute([id])?
        > 0)
}

impl ScheduleStore for SqliteStore {
    async fn create_schedule(&self, schedule: StoredSchedule) -> Result<bool> {
        self.write(move |conn| {
            let exists: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM schedules WHERE id = ?1)")
                .and_then(|mut s| s.query_row([&schedule.id], |r| r.get(0)))
                .map_err(crate::db_err)?;
            if exists {
                return Ok(false);
            }
            insert(conn, &schedule)?;
            Ok(true)
        })
        .await
    }

    async fn put_definition_schedule(
        &self,
        id: &str,
        schedule: Option<StoredSchedule>,
    ) -> Result<()> {
        let id = id.to_owned();
        self.write(move |conn| {
            match schedule {
                Some(schedule) => {
                    // The slots taken stay: a slot a schedule of this id took is not taken again.
                    conn.prepare_cached("DELETE FROM schedules WHERE id = ?1")
                        .and_then(|mut s| s.execute([&id]))
                        .map_err(crate::db_err)?;
                    insert(conn, &schedule)?;
                }
                None => {
                    delete(conn, &id).map_err(crate::db_err)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>> {
        let id = id.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM schedules WHERE id = ?1"))?
                .query_row([id], schedule_row)
                .optional()
        })
    }

    async fn schedules(&self) -> Result<Vec<StoredSchedule>> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM schedules ORDER BY id"))?
                .query_map([], schedule_row)?
                .collect()
        })
    }

    async fn set_schedule_paused(
        &self,
        id: &str,
        paused: bool,
        place: Option<SchedulePlace>,
    ) -> Result<bool> {
        let id = id.to_owned();
        self.write(move |conn| {
            let changed = match place {
                Some(p) => conn
                    .prepare_cached("UPDATE schedules SET paused = ?2, next_at = ?3, last_instance = ?4, buffered = ?5 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id, paused, p.next_at.map(ts), p.last_instance, p.buffered.map(ts)])),
                None => conn.prepare_cached("UPDATE schedules SET paused = ?2 WHERE id = ?1").and_then(|mut s| s.execute(params![id, paused])),
            };
            Ok(changed.map_err(crate::db_err)? > 0)
        })
        .await
    }

    async fn delete_schedule(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.write(move |conn| delete(conn, &id).map_err(crate::db_err))
            .await
    }

    async fn due_schedules(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<StoredSchedule>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let sql = format!("SELECT {COLUMNS} FROM schedules WHERE paused = 0 AND (next_at <= ?1 OR buffered IS NOT NULL) ORDER BY next_at, id LIMIT ?2");
            conn.prepare_cached(&sql)?.query_map(params![ts(now), limit], schedule_row)?.collect()
        })
    }

    async fn next_schedule_due(&self) -> Result<Option<DateTime<Utc>>> {
        self.read(|conn| {
            let next: Option<String> = conn
                .prepare_cached("SELECT MIN(next_at) FROM schedules WHERE paused = 0")?
                .query_row([], |r| r.get(0))?;
            next.map(|t| parse_ts(&t)).transpose()
        })
    }

    async fn advance_schedule(
        &self,
        id: &str,
        from: &SchedulePlace,
        to: &SchedulePlace,
        slot: Option<SlotRecord>,
    ) -> Result<bool> {
        let (id, from, to) = (id.to_owned(), from.clone(), to.clone());
        let outcome = slot
            .as_ref()
            .map(|s| serde_json::to_string(&s.outcome))
            .transpose()
            .map_err(other_err)?;
        self.write(move |conn| {
            let db = crate::db_err;
            if let Some(slot) = &slot {
                let taken: bool = conn
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM schedule_slots WHERE schedule_id = ?1 AND slot_at = ?2)")
                    .and_then(|mut s| s.query_row(params![id, ts(slot.slot)], |r| r.get(0)))
                    .map_err(db)?;
                if taken {
                    return Ok(false);
                }
            }
            let moved = conn
                .prepare_cached(
                    "UPDATE schedules SET next_at = ?5, last_instance = ?6, buffered = ?7 \
                     WHERE id = ?1 AND paused = 0 AND next_at IS ?2 AND last_instance IS ?3 AND buffered IS ?4",
                )
                .and_then(|mut s| {
                    s.execute(params![id, from.next_at.map(ts), from.last_instance, from.buffered.map(ts), to.next_at.map(ts), to.last_instance, to.buffered.map(ts)])
                })
                .map_err(db)?;
            if moved == 0 {
                return Ok(false);
            }
            if let (Some(slot), Some(outcome)) = (slot, outcome) {
                conn.prepare_cached("INSERT INTO schedule_slots (schedule_id, slot_at, outcome, recorded_at) VALUES (?1, ?2, ?3, ?4)")
                    .and_then(|mut s| s.execute(params![id, ts(slot.slot), outcome, ts(slot.recorded_at)]))
                    .map_err(db)?;
            }
            Ok(true)
        })
        .await
    }

    async fn schedule_slots(&self, id: &str, limit: usize) -> Result<Vec<SlotRecord>> {
        let id = id.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            conn.prepare_cached("SELECT slot_at, outcome, recorded_at FROM schedule_slots WHERE schedule_id = ?1 ORDER BY slot_at DESC LIMIT ?2")?
                .query_map(params![id, limit], |row| {
                    Ok(SlotRecord {
                        slot: parse_ts(&row.get::<_, String>(0)?)?,
                        outcome: serde_json::from_str(&row.get::<_, String>(1)?).map_err(json_err)?,
                        recorded_at: parse_ts(&row.get::<_, String>(2)?)?,
                    })
                })?
                .collect()
        })
    }
}
