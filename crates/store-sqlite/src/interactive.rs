//! Sessions and interactive workflows on SQLite: one row per open session, one per
//! interactive workflow that has not ended; each move between a cache and the inbox is one
//! conditional `UPDATE`, and a trigger on the instances table removes the row of a workflow
//! in the step that completes or aborts it (migration 0019).

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use baton_store::{
    InteractiveStore, InteractiveWorkflow, Orphans, Place, Result, SessionRecord, Suspension,
};

use crate::{db_err, parse_ts, ts, SqliteStore};

const COLUMNS: &str =
    "instance_id, owner, process, auto_persist, session_id, suspended_at, why, note";

/// The condition that picks the sessions [`Orphans`] names (`?3`: [`Orphans::code`]) for node
/// `?1` at `?2`.
const ORPHANED: &str = "(?3 = 2 OR (?3 = 1 AND node = ?1) \
    OR (node <> ?1 AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = interactive_sessions.node AND n.lease_until > ?2)))";

fn session_record(r: &rusqlite::Row) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: r.get(0)?,
        user: r.get(1)?,
        created_at: parse_ts(&r.get::<_, String>(2)?)?,
        node: r.get(3)?,
    })
}

fn workflow(row: &rusqlite::Row) -> rusqlite::Result<InteractiveWorkflow> {
    let since = row
        .get::<_, Option<String>>(5)?
        .map(|t| parse_ts(&t))
        .transpose()?;
    let place = Place::from_columns(row.get(4)?, since, row.get(6)?, row.get(7)?).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, e.into())
    })?;
    Ok(InteractiveWorkflow {
        instance: row.get(0)?,
        owner: row.get(1)?,
        process: row.get(2)?,
        auto_persist: row.get(3)?,
        place,
    })
}

impl InteractiveStore for SqliteStore {
    async fn open_session(&self, session: &SessionRecord) -> Result<()> {
        let session = session.clone();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO interactive_sessions (id, user_name, created_at, node) VALUES (?1, ?2, ?3, ?4)",
                params![session.id, session.user, ts(session.created_at), session.node],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn close_session(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.write(move |conn| {
            conn.execute("DELETE FROM interactive_sessions WHERE id = ?1", [&id])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn open_sessions(&self) -> Result<Vec<SessionRecord>> {
        self.read(|conn| {
            conn.prepare("SELECT id, user_name, created_at, node FROM interactive_sessions ORDER BY created_at, id")?
                .query_map([], session_record)?
                .collect()
        })
    }

    async fn renew_node(&self, node: &str, until: DateTime<Utc>) -> Result<()> {
        let node = node.to_owned();
        self.write(move |conn| {
            conn.prepare_cached("INSERT INTO nodes (id, lease_until) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until")
                .and_then(|mut s| s.execute(params![node, ts(until)]))
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn take_over_sessions(
        &self,
        node: &str,
        which: Orphans,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionRecord>> {
        let node = node.to_owned();
        // One writer: the read and the update below are one transaction no other node's
        // takeover interleaves with.
        self.write(move |conn| {
            let now = ts(now);
            let args = params![node, now, which.code()];
            let taken: Vec<SessionRecord> = conn
                .prepare_cached(&format!(
                    "SELECT id, user_name, created_at, node FROM interactive_sessions \
                     WHERE {ORPHANED} ORDER BY created_at, id"
                ))
                .and_then(|mut s| s.query_map(args, session_record)?.collect())
                .map_err(db_err)?;
            conn.prepare_cached(&format!(
                "UPDATE interactive_sessions SET node = ?1 WHERE {ORPHANED}"
            ))
            .and_then(|mut s| s.execute(args))
            .map_err(db_err)?;
            // A node gone for good needs no row: one that was only late renews it again.
            conn.prepare_cached("DELETE FROM nodes WHERE lease_until <= ?1")
                .and_then(|mut s| s.execute([&now]))
                .map_err(db_err)?;
            Ok(taken)
        })
        .await
    }

    async fn add_workflow(&self, w: &InteractiveWorkflow) -> Result<bool> {
        let w = w.clone();
        self.write(move |conn| {
            let (session, since, why, note) = w.place.columns();
            let since = since.map(ts);
            let added = conn
                .execute(
                    &format!("INSERT INTO interactive_workflows ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (instance_id) DO NOTHING"),
                    params![w.instance, w.owner, w.process, w.auto_persist, session, since, why, note],
                )
                .map_err(db_err)?;
            Ok(added == 1)
        })
        .await
    }

    async fn take_from_inbox(&self, instance: &str, owner: &str, session: &str) -> Result<bool> {
        let (instance, owner, session) =
            (instance.to_owned(), owner.to_owned(), session.to_owned());
        self.write(move |conn| {
            let moved = conn
                .execute(
                    "UPDATE interactive_workflows SET session_id = ?3, suspended_at = NULL, why = NULL, note = NULL WHERE instance_id = ?1 AND owner = ?2 AND session_id IS NULL",
                    params![instance, owner, session],
                )
                .map_err(db_err)?;
            Ok(moved == 1)
        })
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
        let (instance, session, note) = (
            instance.to_owned(),
            session.to_owned(),
            note.map(str::to_owned),
        );
        self.write(move |conn| {
            let moved = conn
                .execute(
                    "UPDATE interactive_workflows SET session_id = NULL, suspended_at = ?3, why = ?4, note = ?5 WHERE instance_id = ?1 AND session_id = ?2",
                    params![instance, session, ts(now), why.name(), note],
                )
                .map_err(db_err)?;
            Ok(moved == 1)
        })
        .await
    }

    async fn forget_workflow(&self, instance: &str, session: &str) -> Result<bool> {
        let (instance, session) = (instance.to_owned(), session.to_owned());
        self.write(move |conn| {
            let gone = conn
                .execute(
                    "DELETE FROM interactive_workflows WHERE instance_id = ?1 AND session_id = ?2",
                    params![instance, session],
                )
                .map_err(db_err)?;
            Ok(gone == 1)
        })
        .await
    }

    async fn interactive_workflow(&self, instance: &str) -> Result<Option<InteractiveWorkflow>> {
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM interactive_workflows WHERE instance_id = ?1"
            ))?
            .query_row([instance], workflow)
            .optional()
        })
    }

    async fn cached_workflows(&self, session: &str) -> Result<Vec<InteractiveWorkflow>> {
        self.read(|conn| conn.prepare_cached(&format!("SELECT {COLUMNS} FROM interactive_workflows WHERE session_id = ?1 ORDER BY instance_id"))?.query_map([session], workflow)?.collect())
    }

    async fn suspended_workflows(
        &self,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<InteractiveWorkflow>> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM interactive_workflows WHERE owner = ?1 AND session_id IS NULL ORDER BY suspended_at DESC, instance_id LIMIT ?2"))?
                .query_map(params![owner, limit as i64], workflow)?
                .collect()
        })
    }
}
