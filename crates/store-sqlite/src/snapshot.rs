//! ForEach snapshots on SQLite: one row per run of a ForEach task (parent instance, task,
//! attempt) holding the data and items its iterations share, as LZ4-compressed JSON
//! ([`StoredJson`]), written with the step that starts the run and deleted with the step that
//! ends it.

use rusqlite::{params, Connection, OptionalExtension};

use baton_core::instance::ForEachSnapshot;
use baton_store::{Result, SnapshotKey, SnapshotReader, StoreError};

use crate::stored_json::StoredJson;
use crate::writer::Failure;
use crate::{db_err, SqliteStore};

/// Stores the step's new snapshots (`encoded` in the same order) and removes the dropped ones.
pub(crate) fn write_snapshots(
    conn: &Connection,
    shared: &[(SnapshotKey, std::sync::Arc<ForEachSnapshot>)],
    encoded: &[StoredJson],
    dropped: &[SnapshotKey],
) -> std::result::Result<(), Failure> {
    for ((key, _), bytes) in shared.iter().zip(encoded) {
        conn.prepare_cached("INSERT OR REPLACE INTO foreach_snapshots (instance_id, task, attempt, snapshot) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![key.instance, key.task, key.attempt, bytes]))
            .map_err(db_err)?;
    }
    for key in dropped {
        conn.prepare_cached(
            "DELETE FROM foreach_snapshots WHERE instance_id = ?1 AND task = ?2 AND attempt = ?3",
        )
        .and_then(|mut s| s.execute(params![key.instance, key.task, key.attempt]))
        .map_err(db_err)?;
    }
    Ok(())
}

impl SnapshotReader for SqliteStore {
    async fn snapshot(&self, key: &SnapshotKey) -> Result<Option<ForEachSnapshot>> {
        let stored: Option<StoredJson> = self.read(|conn| {
            conn.prepare_cached("SELECT snapshot FROM foreach_snapshots WHERE instance_id = ?1 AND task = ?2 AND attempt = ?3")?
                .query_row(params![key.instance, key.task, key.attempt], |r| r.get(0))
                .optional()
        })?;
        let corrupt = |message: String| StoreError::CorruptState {
            instance: key.instance.clone(),
            message: format!(
                "the snapshot of ForEach task `{}` attempt {}: {message}",
                key.task, key.attempt
            ),
        };
        stored.map(|s| s.decode().map_err(corrupt)).transpose()
    }
}
