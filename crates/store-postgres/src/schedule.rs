//! [`ScheduleStore`] on PostgreSQL (migration `202612080002_schedules.sql`). A place moves by
//! one conditional update, and its slot is inserted in the same transaction under the key
//! (schedule, slot time): of two nodes taking the same slot, one commits.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Executor, Postgres, Row};

use baton_store::schedule::{SchedulePlace, ScheduleStore, SlotRecord, StoredSchedule};
use baton_store::Result;

use crate::{db_err, other_err, PgStore};

const COLUMNS: &str = "id, process, spec, from_definition, created_by, created_at, paused, next_at, last_instance, buffered";

fn schedule_row(row: &PgRow) -> Result<StoredSchedule> {
    let get = |e: sqlx::Error| db_err(e);
    Ok(StoredSchedule {
        id: row.try_get(0).map_err(get)?,
        process: row.try_get(1).map_err(get)?,
        spec: serde_json::from_str(row.try_get::<&str, _>(2).map_err(get)?).map_err(other_err)?,
        from_definition: row.try_get(3).map_err(get)?,
        created_by: row.try_get(4).map_err(get)?,
        created_at: row.try_get(5).map_err(get)?,
        paused: row.try_get(6).map_err(get)?,
        place: SchedulePlace {
            next_at: row.try_get(7).map_err(get)?,
            last_instance: row.try_get(8).map_err(get)?,
            buffered: row.try_get(9).map_err(get)?,
        },
    })
}

async fn insert<'e>(
    executor: impl Executor<'e, Database = Postgres>,
    s: &StoredSchedule,
) -> Result<u64> {
    let spec = serde_json::to_string(&s.spec).map_err(other_err)?;
    let sql = format!("INSERT INTO schedules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING");
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&s.id)
        .bind(&s.process)
        .bind(spec)
        .bind(s.from_definition)
        .bind(&s.created_by)
        .bind(s.created_at)
        .bind(s.paused)
        .bind(s.place.next_at)
        .bind(s.place.last_instance.as_deref())
        .bind(s.place.buffered)
        .execute(executor)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected())
}

impl ScheduleStore for PgStore {
    async fn create_schedule(&self, schedule: StoredSchedule) -> Result<bool> {
        Ok(insert(self.pool(), &schedule).await? == 1)
    }

    async fn put_definition_schedule(
        &self,
        id: &str,
        schedule: Option<StoredSchedule>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        sqlx::query("DELETE FROM schedules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        match schedule {
            // The slots taken stay: a slot a schedule of this id took is not taken again.
            Some(schedule) => {
                insert(&mut *tx, &schedule).await?;
            }
            None => {
                sqlx::query("DELETE FROM schedule_slots WHERE schedule_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
        }
        tx.commit().await.map_err(db_err)
    }

    async fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>> {
        let sql = format!("SELECT {COLUMNS} FROM schedules WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(db_err)?;
        row.as_ref().map(schedule_row).transpose()
    }

    async fn schedules(&self) -> Result<Vec<StoredSchedule>> {
        let sql = format!("SELECT {COLUMNS} FROM schedules ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await
            .map_err(db_err)?;
        rows.iter().map(schedule_row).collect()
    }

    async fn set_schedule_paused(
        &self,
        id: &str,
        paused: bool,
        place: Option<SchedulePlace>,
    ) -> Result<bool> {
        let done = match place {
            Some(p) => sqlx::query("UPDATE schedules SET paused = $2, next_at = $3, last_instance = $4, buffered = $5 WHERE id = $1")
                .bind(id)
                .bind(paused)
                .bind(p.next_at)
                .bind(p.last_instance)
                .bind(p.buffered)
                .execute(self.pool())
                .await,
            None => sqlx::query("UPDATE schedules SET paused = $2 WHERE id = $1").bind(id).bind(paused).execute(self.pool()).await,
        };
        Ok(done.map_err(db_err)?.rows_affected() > 0)
    }

    async fn delete_schedule(&self, id: &str) -> Result<bool> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        sqlx::query("DELETE FROM schedule_slots WHERE schedule_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let gone = sqlx::query("DELETE FROM schedules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        tx.commit().await.map_err(db_err)?;
        Ok(gone > 0)
    }

    async fn due_schedules(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<StoredSchedule>> {
        let sql = format!("SELECT {COLUMNS} FROM schedules WHERE NOT paused AND (next_at <= $1 OR buffered IS NOT NULL) ORDER BY next_at, id LIMIT $2");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .map_err(db_err)?;
        rows.iter().map(schedule_row).collect()
    }

    async fn next_schedule_due(&self) -> Result<Option<DateTime<Utc>>> {
        sqlx::query_scalar("SELECT MIN(next_at) FROM schedules WHERE NOT paused")
            .fetch_one(self.pool())
            .await
            .map_err(db_err)
    }

    async fn advance_schedule(
        &self,
        id: &str,
        from: &SchedulePlace,
        to: &SchedulePlace,
        slot: Option<SlotRecord>,
    ) -> Result<bool> {
        let mut tx = self.pool().begin().await.map_err(db_err)?;
        let moved = sqlx::query(
            "UPDATE schedules SET next_at = $5, last_instance = $6, buffered = $7
             WHERE id = $1 AND NOT paused AND next_at IS NOT DISTINCT FROM $2
               AND last_instance IS NOT DISTINCT FROM $3 AND buffered IS NOT DISTINCT FROM $4",
        )
        .bind(id)
        .bind(from.next_at)
        .bind(from.last_instance.as_deref())
        .bind(from.buffered)
        .bind(to.next_at)
        .bind(to.last_instance.as_deref())
        .bind(to.buffered)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        if let Some(slot) = slot {
            let outcome = serde_json::to_string(&slot.outcome).map_err(other_err)?;
            let recorded = sqlx::query("INSERT INTO schedule_slots (schedule_id, slot_at, outcome, recorded_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(slot.slot)
                .bind(outcome)
                .bind(slot.recorded_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
            if recorded == 0 {
                // Dropping the transaction rolls the place back.
                return Ok(false);
            }
        }
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn schedule_slots(&self, id: &str, limit: usize) -> Result<Vec<SlotRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sqlx::query("SELECT slot_at, outcome, recorded_at FROM schedule_slots WHERE schedule_id = $1 ORDER BY slot_at DESC LIMIT $2")
            .bind(id)
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                Ok(SlotRecord {
                    slot: row.try_get(0).map_err(db_err)?,
                    outcome: serde_json::from_str(row.try_get::<&str, _>(1).map_err(db_err)?)
                        .map_err(other_err)?,
                    recorded_at: row.try_get(2).map_err(db_err)?,
                })
            })
            .collect()
    }
}
