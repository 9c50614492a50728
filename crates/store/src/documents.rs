//! Stored documents (Stardust's Document data): what process data refers to with a
//! `{"document": "ID"}` value. A store keeps each document's metadata (its record) in the
//! database and its content content-addressed by SHA-256, written before the record commits,
//! so a record never names content that is not there. Metadata changes bump the version;
//! content never changes (a new content is a new document).
//!
//! A store also keeps an index of which instances refer to which documents, written with each
//! step's data ([`StepRecord::documents`](crate::StepRecord::documents)), so that who may read
//! a document is decided without reading every instance.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::StoreError;

/// The largest content a document may have: 10 MiB (the API reads bodies up to 16 MiB).
pub const MAX_CONTENT_BYTES: usize = 10 << 20;
/// The largest metadata map a document may have, as JSON: 64 KiB.
pub const MAX_METADATA_BYTES: usize = 64 << 10;
/// The longest name a document may have, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// A stored document's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    /// Its file name, as uploaded.
    pub name: String,
    /// Its document type (`invoice`), if it was given one.
    pub document_type: Option<String>,
    /// Its media type (`application/pdf`).
    pub content_type: String,
    /// The content's size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content (which is stored under it).
    pub sha256: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// 1 when stored; each metadata change adds one.
    pub version: u32,
    pub updated_at: DateTime<Utc>,
    /// Free metadata: whatever its users record about it.
    pub metadata: Map<String, Value>,
}

/// A document to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument {
    pub id: String,
    pub name: String,
    pub document_type: Option<String>,
    pub content_type: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub metadata: Map<String, Value>,
}

/// A copy of a document's record under a new id, committed with a step (Stardust's
/// one-document rule passes a document without its metadata): the same content, name, type
/// and media type, no metadata, version 1, made by `by` at `at`. A copy of a document the
/// store does not have copies nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentCopy {
    pub from: String,
    pub to: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// Why a document operation was refused or failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DocumentError {
    #[error("there is no document `{0}`")]
    UnknownDocument(String),
    #[error("the content is {size} bytes, more than a document may have ({max} bytes)")]
    ContentTooLarge { size: usize, max: usize },
    #[error("the metadata is {size} bytes as JSON, more than a document may have ({max} bytes)")]
    MetadataTooLarge { size: usize, max: usize },
    #[error("the document's name {0}")]
    BadName(String),
    #[error("the stored content of document `{id}` is damaged or missing: {problem}")]
    CorruptContent { id: String, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Storing and reading documents.
pub trait DocumentStore: Send + Sync {
    /// Stores a document: its content first (under its SHA-256), then its record. Refused,
    /// storing nothing, past the limits ([`check_new_document`]).
    fn add_document(
        &self,
        new: NewDocument,
        content: Vec<u8>,
    ) -> impl Future<Output = Result<Document, DocumentError>> + Send;
    /// A document's record.
    fn document(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Document>, DocumentError>> + Send;
    /// A document's content, checked against its SHA-256.
    fn document_content(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, DocumentError>> + Send;
    /// Sets metadata keys (a `null` value removes the key) and bumps the version. Refused,
    /// changing nothing, if the metadata would pass [`MAX_METADATA_BYTES`].
    fn update_document_metadata(
        &self,
        id: &str,
        changes: Map<String, Value>,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Document, DocumentError>> + Send;
    /// Up to `limit` of the instances whose data refers to the document, by id.
    fn referencing_instances(
        &self,
        id: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<String>, DocumentError>> + Send {
        self.referencing_instances_in(id, &crate::DepartmentScope::All, limit)
    }
    /// Up to `limit` of the instances in `scope` whose data refers to the document, by id.
    fn referencing_instances_in(
        &self,
        id: &str,
        scope: &crate::DepartmentScope,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<String>, DocumentError>> + Send;
}

/// Checks a new document against the limits, before anything is stored.
pub fn check_new_document(new: &NewDocument, content_len: usize) -> Result<(), DocumentError> {
    if content_len > MAX_CONTENT_BYTES {
        return Err(DocumentError::ContentTooLarge {
            size: content_len,
            max: MAX_CONTENT_BYTES,
        });
    }
    let chars = new.name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(DocumentError::BadName(format!(
            "has {chars} characters; it must have 1 to {MAX_NAME_CHARS}"
        )));
    }
    if let Some(c) = new
        .name
        .chars()
        .find(|c| c.is_control() || matches!(c, '/' | '\\'))
    {
        return Err(DocumentError::BadName(format!(
            "may not hold `{}`",
            c.escape_default()
        )));
    }
    check_metadata(&new.metadata)
}

/// The lower-case hex SHA-256 of `content`: the name every store keeps content under.
pub fn content_sha256(content: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Refuses metadata past [`MAX_METADATA_BYTES`].
pub fn check_metadata(metadata: &Map<String, Value>) -> Result<(), DocumentError> {
    let size = serde_json::to_vec(metadata)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(DocumentError::MetadataTooLarge {
            size,
            max: MAX_METADATA_BYTES,
        });
    }
    Ok(())
}

/// `metadata` with `changes` applied: each key set, or removed by a `null`.
pub fn merge_metadata(
    mut metadata: Map<String, Value>,
    changes: Map<String, Value>,
) -> Map<String, Value> {
    for (key, value) in changes {
        if value.is_null() {
            metadata.remove(&key);
        } else {
            metadata.insert(key, value);
        }
    }
    metadata
}
