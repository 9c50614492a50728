//! Stored documents: what process data refers to with `{"document": "ID"}`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A stored document's record (its content is downloaded on its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Document {
    /// Its id: process data refers to it as `{"document": "ID"}`.
    pub id: String,
    /// Its file name, as uploaded.
    pub name: String,
    /// Its document type (`invoice`); `null` if it was given none.
    pub document_type: Option<String>,
    /// Its media type (`application/pdf`), which a download answers with.
    pub content_type: String,
    /// The content's size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// Who uploaded it (or spawned the instance a copy of it was made for).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// 1 when uploaded; each metadata change adds one.
    pub version: u32,
    /// When its metadata last changed (its creation time if never).
    pub updated_at: DateTime<Utc>,
    /// Free metadata, as its users recorded it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: crate::Data,
}
