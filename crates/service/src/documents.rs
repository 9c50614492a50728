//! Stored documents for a user: upload, read the record, download the content, set metadata.
//!
//! Who may read a document (its record and content) and set its metadata: its uploader,
//! whoever sees every instance (administrators, and the local command line acting as the
//! built-in operator, which holds the database file), and every user who may see an instance
//! whose data refers to it (a `document`, `document_list` or `attachments` value naming it):
//! one in their department scope ([`crate::scope`]), found through the store's index of
//! references, filtered by scope in its query, not by reading instances. A document no
//! instance refers to is readable by its uploader and those who see everything. Data a user gives (a start, a spawn, a human task's output, a prompt's
//! input) may refer only to documents that user may read, so nobody reaches a document by
//! naming it in data.

use baton_api_model as api;
use baton_store::{DepartmentScope, Document, DocumentError, NewDocument};
use serde_json::{Map, Value};

use crate::scope::Viewer;
use crate::{Result, Service, ServiceError, ServiceStore};

/// A document to upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// Its file name.
    pub name: String,
    /// Its media type; `application/octet-stream` if not known.
    pub content_type: String,
    pub document_type: Option<String>,
    pub metadata: Map<String, Value>,
    pub content: Vec<u8>,
}

impl<S: ServiceStore> Service<S> {
    /// Stores a document uploaded by `user`; returns its record.
    pub async fn upload_document(&self, user: &str, upload: Upload) -> Result<api::Document> {
        let caller = self.authenticate(user).await?;
        if let Some(problem) = upload
            .document_type
            .as_deref()
            .and_then(|t| baton_core::definition::wire_name_problem("document type", t))
        {
            return Err(ServiceError::InvalidRequest {
                field: "document_type",
                problem,
            });
        }
        if let Some(problem) = content_type_problem(&upload.content_type) {
            return Err(ServiceError::InvalidRequest {
                field: "content_type",
                problem,
            });
        }
        let new = NewDocument {
            id: uuid::Uuid::now_v7().to_string(),
            name: upload.name,
            document_type: upload.document_type,
            content_type: upload.content_type,
            created_by: caller.user,
            created_at: self.engine.now(),
            metadata: upload.metadata,
        };
        Ok(view(
            self.engine
                .store()
                .add_document(new, upload.content)
                .await?,
        ))
    }

    /// A document's record.
    pub async fn document(&self, user: &str, id: &str) -> Result<api::Document> {
        let viewer = self.viewer(user).await?;
        Ok(view(self.readable(&viewer, id).await?))
    }

    /// A document's record and content.
    pub async fn document_content(&self, user: &str, id: &str) -> Result<(api::Document, Vec<u8>)> {
        let viewer = self.viewer(user).await?;
        let document = self.readable(&viewer, id).await?;
        let content = self
            .engine
            .store()
            .document_content(id)
            .await?
            .ok_or_else(|| DocumentError::UnknownDocument(id.to_owned()))?;
        Ok((view(document), content))
    }

    /// Sets metadata keys of a document (a `null` removes the key); its version goes up by one.
    pub async fn set_document_metadata(
        &self,
        user: &str,
        id: &str,
        changes: Map<String, Value>,
    ) -> Result<api::Document> {
        let viewer = self.viewer(user).await?;
        self.readable(&viewer, id).await?;
        Ok(view(
            self.engine
                .store()
                .update_document_metadata(id, changes, self.engine.now())
                .await?,
        ))
    }

    /// The document, if `caller` may read it (see the module doc).
    async fn readable(&self, viewer: &Viewer, id: &str) -> Result<Document> {
        let store = self.engine.store();
        let document = store
            .document(id)
            .await?
            .ok_or_else(|| DocumentError::UnknownDocument(id.to_owned()))?;
        if viewer.scope == DepartmentScope::All || document.created_by == viewer.caller.user {
            return Ok(document);
        }
        if !store
            .referencing_instances_in(id, &viewer.scope, 1)
            .await?
            .is_empty()
        {
            return Ok(document);
        }
        Err(ServiceError::MayNotReadDocument {
            user: viewer.caller.user.clone(),
            document: id.to_owned(),
        })
    }

    /// Refuses data that refers to a document `user` may not read (or that does not exist):
    /// naming a document in data must not be a way to reach it.
    pub(crate) async fn check_documents_in(
        &self,
        user: &str,
        data: &Map<String, Value>,
    ) -> Result<()> {
        let ids = baton_core::data_type::referenced_documents(data);
        if ids.is_empty() {
            return Ok(());
        }
        let viewer = self.viewer(user).await?;
        for id in ids {
            self.readable(&viewer, &id).await?;
        }
        Ok(())
    }
}

/// A media type as `type/subtype` (with parameters), printable and short.
fn content_type_problem(content_type: &str) -> Option<String> {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let parts: Vec<&str> = essence.split('/').collect();
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    if content_type.len() > 255
        || content_type.chars().any(|c| c.is_control())
        || parts.len() != 2
        || !parts.iter().all(|p| token(p))
    {
        return Some(format!(
            "`{}` is not a media type like `application/pdf`",
            content_type.escape_default()
        ));
    }
    None
}

/// The view of a stored document.
pub(crate) fn view(document: Document) -> api::Document {
    api::Document {
        id: document.id,
        name: document.name,
        document_type: document.document_type,
        content_type: document.content_type,
        size: document.size,
        sha256: document.sha256,
        created_by: document.created_by,
        created_at: document.created_at,
        version: document.version,
        updated_at: document.updated_at,
        metadata: document.metadata,
    }
}
