//! ForEach snapshots on SQLite: one row per run of a ForEach task (parent instance, task,
//! attempt) holding the data and items its iterations share, as LZ4-compressed JSON, written
//! with the step that starts the run and deleted with the step that ends it.

use rusqlite::{params, Connection, OptionalExtension};

use baton_core::instance::ForEachSnapshot;
use baton_store::{Result, SnapshotKey, SnapshotReader, StoreError};

use crate::writer::Failure;
use crate::{db_err, other_err, SqliteStore};

/// A snapshot as stored: its JSON, compressed (lists of items and data compress well, and a
/// snapshot is written once and read by every iteration that is not cached).
pub(crate) fn encode(snapshot: &ForEachSnapshot) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(snapshot).map_err(other_err)?;
    Ok(lz4_flex::compress_prepend_size(&json))
}

fn decode(key: &SnapshotKey, bytes: &[u8]) -> Result<ForEachSnapshot> {
    let corrupt = |message: String| StoreError::CorruptState { instance: key.instance.clone(), message: format!("the snapshot of ForEach task `{}` attempt {}: {message}", key.task, key.attempt) };
    let json = lz4_flex::decompress_size_prepended(bytes).map_err(|e| corrupt(e.to_string()))?;
    serde_json::from_slice(&json).map_err(|e| corrupt(e.to_string()))
}

/// Stores the step's new snapshots (`encoded` in the same order) and removes the dropped ones.
pub(crate) fn write_snapshots(conn: &Connection, shared: &[(SnapshotKey, std::sync::Arc<ForEachSnapshot>)], encoded: &[Vec<u8>], dropped: &[SnapshotKey]) -> std::result::Result<(), Failure> {
    for ((key, _), bytes) in shared.iter().zip(encoded) {
        conn.prepare_cached("INSERT OR REPLACE INTO foreach_snapshots (instance_id, task, attempt, snapshot) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![key.instance, key.task, key.attempt, bytes]))
            .map_err(db_err)?;
    }
    for key in dropped {
        conn.prepare_cached("DELETE FROM foreach_snapshots WHERE instance_id = ?1 AND task = ?2 AND attempt = ?3")
            .and_then(|mut s| s.execute(params![key.instance, key.task, key.attempt]))
            .map_err(db_err)?;
    }
    Ok(())
}

impl SnapshotReader for SqliteStore {
    async fn snapshot(&self, key: &SnapshotKey) -> Result<Option<ForEachSnapshot>> {
        let bytes: Option<Vec<u8>> = self.read(|conn| {
            conn.prepare_cached("SELECT snapshot FROM foreach_snapshots WHERE instance_id = ?1 AND task = ?2 AND attempt = ?3")?
                .query_row(params![key.instance, key.task, key.attempt], |r| r.get(0))
                .optional()
        })?;
        bytes.map(|b| decode(key, &b)).transpose()
    }
}
