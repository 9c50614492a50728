//! [`DocumentStore`] on SQLite (migration `documents`): each document's record is a row of
//! `documents`; its content is a file named by its SHA-256 under the document directory
//! (`documents/` beside the database file by default), written and synced before the row
//! commits, so a committed record always has its content. Identical content is stored once.
//! The index of references (`document_refs`: which instances' data refers to which
//! documents) is written with each step that changes it.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};

use baton_store::documents::{check_metadata, check_new_document, content_sha256, merge_metadata};
use baton_store::{
    DepartmentScope, Document, DocumentError, DocumentStore, NewDocument, StepRecord, StoreError,
};

use crate::{db_err, other_err, parse_ts, ts, SqliteStore};

const COLUMNS: &str = "id, name, document_type, content_type, size, sha256, created_by, created_at, version, updated_at, metadata";

fn document_row(row: &rusqlite::Row) -> rusqlite::Result<Document> {
    let metadata: String = row.get(10)?;
    Ok(Document {
        id: row.get(0)?,
        name: row.get(1)?,
        document_type: row.get(2)?,
        content_type: row.get(3)?,
        size: row.get::<_, i64>(4)? as u64,
        sha256: row.get(5)?,
        created_by: row.get(6)?,
        created_at: parse_ts(&row.get::<_, String>(7)?)?,
        version: row.get(8)?,
        updated_at: parse_ts(&row.get::<_, String>(9)?)?,
        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
    })
}

fn document_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<Document>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM documents WHERE id = ?1"))?
        .query_row([id], document_row)
        .optional()
}

/// Where content with this hash lives: `DIR/ab/abcdef…`.
fn content_path(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(&sha256[..2]).join(sha256)
}

/// Writes `content` under its hash (once: content already there is left as it is), synced to
/// disk before this returns. Returns the hash.
fn write_content(dir: &Path, content: &[u8]) -> std::io::Result<String> {
    let sha256 = content_sha256(content);
    let path = content_path(dir, &sha256);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == content.len() as u64) {
        return Ok(sha256);
    }
    let folder = path.parent().expect("a content path has a folder");
    std::fs::create_dir_all(folder)?;
    // A temporary name of this writer's own, then a rename: a reader never sees half a file.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let partial = folder.join(format!(".{sha256}.{}.{n}.partial", std::process::id()));
    let mut file = std::fs::File::create(&partial)?;
    file.write_all(content)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&partial, &path)?;
    // The rename is durable once the folder is synced.
    std::fs::File::open(folder)?.sync_all()?;
    Ok(sha256)
}

/// Blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DocumentError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DocumentError::Store(other_err(e)))
}

impl DocumentStore for SqliteStore {
    async fn add_document(
        &self,
        new: NewDocument,
        content: Vec<u8>,
    ) -> Result<Document, DocumentError> {
        check_new_document(&new, content.len())?;
        let dir = self.document_dir().to_path_buf();
        let size = content.len() as u64;
        let sha256 = blocking(move || write_content(&dir, &content))
            .await?
            .map_err(|e| {
                DocumentError::Store(StoreError::backend(
                    baton_store::BackendKind::Storage,
                    format!("writing a document's content: {e}"),
                ))
            })?;
        let metadata =
            serde_json::to_string(&new.metadata).map_err(|e| DocumentError::Store(other_err(e)))?;
        let document = Document {
            id: new.id,
            name: new.name,
            document_type: new.document_type,
            content_type: new.content_type,
            size,
            sha256,
            created_by: new.created_by,
            created_at: new.created_at,
            version: 1,
            updated_at: new.created_at,
            metadata: new.metadata,
        };
        let row = document.clone();
        self.write(move |conn| {
            conn.prepare_cached(&format!("INSERT INTO documents ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?8, ?9)"))
                .and_then(|mut s| {
                    s.execute(params![row.id, row.name, row.document_type, row.content_type, row.size as i64, row.sha256, row.created_by, ts(row.created_at), metadata])
                })
                .map_err(db_err)?;
            Ok(())
        })
        .await?;
        // Read back: the record as stored (its times at the store's precision).
        let id = document.id;
        self.document(&id)
            .await?
            .ok_or(DocumentError::UnknownDocument(id))
    }

    async fn document(&self, id: &str) -> Result<Option<Document>, DocumentError> {
        self.read(|conn| document_by_id(conn, id))
            .map_err(DocumentError::Store)
    }

    async fn document_content(&self, id: &str) -> Result<Option<Vec<u8>>, DocumentError> {
        let Some(document) = self.document(id).await? else {
            return Ok(None);
        };
        let path = content_path(self.document_dir(), &document.sha256);
        let content = blocking(move || std::fs::read(path)).await?;
        let corrupt = |problem: String| DocumentError::CorruptContent {
            id: id.to_owned(),
            problem,
        };
        let content = content.map_err(|e| corrupt(e.to_string()))?;
        if content_sha256(&content) != document.sha256 {
            return Err(corrupt("its SHA-256 is not the one recorded".into()));
        }
        Ok(Some(content))
    }

    async fn update_document_metadata(
        &self,
        id: &str,
        changes: Map<String, Value>,
        at: DateTime<Utc>,
    ) -> Result<Document, DocumentError> {
        let id = id.to_owned();
        // Read, merged and written in one request of the single writer: no change is lost.
        let outcome = self
            .write(move |conn| {
                let Some(mut document) = document_by_id(conn, &id).map_err(db_err)? else { return Ok(Err(DocumentError::UnknownDocument(id))) };
                let metadata = merge_metadata(std::mem::take(&mut document.metadata), changes);
                if let Err(e) = check_metadata(&metadata) {
                    return Ok(Err(e));
                }
                let text = serde_json::to_string(&metadata).map_err(other_err)?;
                conn.prepare_cached("UPDATE documents SET metadata = ?2, version = version + 1, updated_at = ?3 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id, text, ts(at)]))
                    .map_err(db_err)?;
                Ok(Ok(Document { metadata, version: document.version + 1, updated_at: at, ..document }))
            })
            .await?;
        outcome
    }

    async fn referencing_instances_in(
        &self,
        id: &str,
        scope: &DepartmentScope,
        limit: usize,
    ) -> Result<Vec<String>, DocumentError> {
        let (mode, department) = scope.sql_params();
        self.read(|conn| {
            let sql = "SELECT r.instance_id FROM document_refs r JOIN instances i ON i.id = r.instance_id
                       WHERE r.document_id = ?1 AND (?3 = 0 OR i.department IS NULL OR (?3 = 2 AND i.department = ?4))
                       ORDER BY r.instance_id LIMIT ?2";
            conn.prepare_cached(sql)?.query_map(params![id, limit as i64, mode, department], |r| r.get(0))?.collect()
        })
        .map_err(DocumentError::Store)
    }
}

/// Writes a step's changes to documents: the instance's rows of the index of references,
/// and the copies of records it makes.
pub(crate) fn write_document_changes(
    conn: &Connection,
    step: &StepRecord,
) -> Result<(), StoreError> {
    if let (Some(documents), Some(instance)) = (&step.documents, &step.instance) {
        if !step.new {
            conn.prepare_cached("DELETE FROM document_refs WHERE instance_id = ?1")
                .and_then(|mut s| s.execute([&instance.id]))
                .map_err(db_err)?;
        }
        for document in documents {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO document_refs (document_id, instance_id) VALUES (?1, ?2)",
            )
            .and_then(|mut s| s.execute(params![document, instance.id]))
            .map_err(db_err)?;
        }
    }
    for copy in &step.copy_documents {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO documents (id, name, document_type, content_type, size, sha256, created_by, created_at, version, updated_at, metadata)
             SELECT ?2, name, document_type, content_type, size, sha256, ?3, ?4, 1, ?4, '{}' FROM documents WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![copy.from, copy.to, copy.by, ts(copy.at)]))
        .map_err(db_err)?;
    }
    Ok(())
}

/// The document directory of a database at `path`: `documents/` beside it.
pub(crate) fn default_document_dir(path: &Path) -> PathBuf {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("documents")
}
