-- Incidents: steps that could not be applied (or runs a loop limit stopped), kept with the
-- command to retry. Open ones are indexed; closed ones stay for the record.
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL,
    task TEXT,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    command TEXT,
    attempts INTEGER NOT NULL,
    raised_at TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT,
    resolution TEXT
);
CREATE INDEX incidents_by_instance ON incidents (instance_id, id);
CREATE INDEX incidents_open ON incidents (id) WHERE resolved_at IS NULL;
