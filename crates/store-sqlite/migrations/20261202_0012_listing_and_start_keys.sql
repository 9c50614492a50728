-- Idempotent starts: the instance each idempotency key started, with a fingerprint of the
-- process and data it was started with.
CREATE TABLE start_keys (
    key         TEXT NOT NULL PRIMARY KEY,
    instance_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at  TEXT NOT NULL
) WITHOUT ROWID;

-- Listing the instances of one process, newest first.
CREATE INDEX instances_process ON instances (definition_id, created_at);
