-- Stored documents (Stardust's Document data): each document's record. Its content is a file
-- named by its SHA-256 under the document directory, written before the record commits.
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    document_type TEXT,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- 1 when stored; each metadata change adds one.
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    -- The free metadata map, as JSON.
    metadata TEXT NOT NULL
);

-- Which instances' data refers to which documents, written with each step that changes it:
-- who may read a document is decided from it without reading instances.
CREATE TABLE document_refs (
    document_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    PRIMARY KEY (document_id, instance_id)
) WITHOUT ROWID;
CREATE INDEX document_refs_instance ON document_refs (instance_id);
