//! [`DocumentStore`] on PostgreSQL: each document's record is a row of `documents`, its
//! content a row of `document_contents` keyed by its SHA-256 (identical content is stored
//! once), written in the record's transaction, so every node reads what any node stored and
//! a record never names content that is not there. The index of references is written with
//! each step (`records::write_documents`).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::Row;

use baton_store::documents::{check_metadata, check_new_document, content_sha256, merge_metadata};
use baton_store::{DepartmentScope, Document, DocumentError, DocumentStore, NewDocument};

use crate::{db_err, other_err, PgStore};

const COLUMNS: &str = "id, name, document_type, content_type, size, sha256, created_by, created_at, version, updated_at, metadata";

fn store_err(e: sqlx::Error) -> DocumentError {
    DocumentError::Store(db_err(e))
}

fn document_row(row: &PgRow) -> sqlx::Result<Document> {
    let metadata: String = row.try_get(10)?;
    Ok(Document {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        document_type: row.try_get(2)?,
        content_type: row.try_get(3)?,
        size: row.try_get::<i64, _>(4)? as u64,
        sha256: row.try_get(5)?,
        created_by: row.try_get(6)?,
        created_at: row.try_get(7)?,
        version: row.try_get::<i32, _>(8)? as u32,
        updated_at: row.try_get(9)?,
        metadata: serde_json::from_str(&metadata).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
    })
}

async fn document_by_id(
    conn: impl sqlx::PgExecutor<'_>,
    id: &str,
    lock: bool,
) -> Result<Option<Document>, DocumentError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM documents WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(store_err)?;
    row.as_ref()
        .map(document_row)
        .transpose()
        .map_err(store_err)
}

impl DocumentStore for PgStore {
    async fn add_document(
        &self,
        new: NewDocument,
        content: Vec<u8>,
    ) -> Result<Document, DocumentError> {
        check_new_document(&new, content.len())?;
        let sha256 = content_sha256(&content);
        let metadata =
            serde_json::to_string(&new.metadata).map_err(|e| DocumentError::Store(other_err(e)))?;
        let mut tx = self.pool().begin().await.map_err(store_err)?;
        sqlx::query("INSERT INTO document_contents (sha256, content) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(&sha256)
            .bind(&content)
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO documents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $8, $9)"
        )))
        .bind(&new.id)
        .bind(&new.name)
        .bind(new.document_type.as_deref())
        .bind(&new.content_type)
        .bind(content.len() as i64)
        .bind(&sha256)
        .bind(&new.created_by)
        .bind(new.created_at)
        .bind(&metadata)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        // Read back: the record as stored (its times at the store's precision).
        self.document(&new.id)
            .await?
            .ok_or(DocumentError::UnknownDocument(new.id))
    }

    async fn document(&self, id: &str) -> Result<Option<Document>, DocumentError> {
        document_by_id(self.pool(), id, false).await
    }

    async fn document_content(&self, id: &str) -> Result<Option<Vec<u8>>, DocumentError> {
        let row: Option<(String, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT d.sha256, c.content FROM documents d LEFT JOIN document_contents c ON c.sha256 = d.sha256 WHERE d.id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(store_err)?;
        let Some((sha256, content)) = row else {
            return Ok(None);
        };
        let corrupt = |problem: &str| DocumentError::CorruptContent {
            id: id.to_owned(),
            problem: problem.to_owned(),
        };
        let content = content.ok_or_else(|| corrupt("no content is stored under its SHA-256"))?;
        if content_sha256(&content) != sha256 {
            return Err(corrupt("its SHA-256 is not the one recorded"));
        }
        Ok(Some(content))
    }

    async fn update_document_metadata(
        &self,
        id: &str,
        changes: Map<String, Value>,
        at: DateTime<Utc>,
    ) -> Result<Document, DocumentError> {
        // Read locked, merged and written in one transaction: no concurrent change is lost.
        let mut tx = self.pool().begin().await.map_err(store_err)?;
        let Some(mut document) = document_by_id(&mut *tx, id, true).await? else {
            return Err(DocumentError::UnknownDocument(id.to_owned()));
        };
        let metadata = merge_metadata(std::mem::take(&mut document.metadata), changes);
        check_metadata(&metadata)?;
        let text =
            serde_json::to_string(&metadata).map_err(|e| DocumentError::Store(other_err(e)))?;
        sqlx::query("UPDATE documents SET metadata = $2, version = version + 1, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(&text)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        Ok(Document {
            metadata,
            version: document.version + 1,
            updated_at: at,
            ..document
        })
    }

    async fn referencing_instances_in(
        &self,
        id: &str,
        scope: &DepartmentScope,
        limit: usize,
    ) -> Result<Vec<String>, DocumentError> {
        let (mode, department) = scope.sql_params();
        let sql = "SELECT r.instance_id FROM document_refs r JOIN instances i ON i.id = r.instance_id
                   WHERE r.document_id = $1 AND ($3 = 0 OR i.department IS NULL OR ($3 = 2 AND i.department = $4::TEXT))
                   ORDER BY r.instance_id LIMIT $2";
        sqlx::query_scalar(sql)
            .bind(id)
            .bind(limit.min(i64::MAX as usize) as i64)
            .bind(mode)
            .bind(department)
            .fetch_all(self.pool())
            .await
            .map_err(store_err)
    }
}
