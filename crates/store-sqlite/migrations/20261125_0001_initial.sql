-- Baton's initial schema. Never edit a released migration: add a new one.
CREATE TABLE definitions (
    id          TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    file        TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    deployed_at TEXT    NOT NULL,
    PRIMARY KEY (id, version)
) WITHOUT ROWID;

-- One compact row per instance: the whole state as JSON (format in `state_format`).
CREATE TABLE instances (
    id                 TEXT    NOT NULL PRIMARY KEY,
    definition_id      TEXT    NOT NULL,
    definition_version INTEGER NOT NULL,
    status             TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    ended_at           TEXT,
    -- next history sequence number: an update must name the one it read (optimistic concurrency)
    seq                INTEGER NOT NULL,
    state_format       INTEGER NOT NULL,
    state              TEXT    NOT NULL
) WITHOUT ROWID;
-- Only open instances are indexed by status, so the index does not grow with finished ones.
CREATE INDEX instances_open ON instances (status) WHERE status IN ('running', 'waiting', 'blocked');
CREATE INDEX instances_created ON instances (created_at);

-- Append-only history: one row per event.
CREATE TABLE history (
    instance_id TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    event       TEXT    NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;

-- The job queue: at most one outstanding attempt per task.
CREATE TABLE jobs (
    instance_id TEXT    NOT NULL,
    task        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    request     TEXT    NOT NULL,
    queued_at   TEXT    NOT NULL,
    owner       TEXT,
    lease_until TEXT,
    PRIMARY KEY (instance_id, task)
) WITHOUT ROWID;
CREATE INDEX jobs_queued ON jobs (queued_at) WHERE owner IS NULL;

-- Durable timers.
CREATE TABLE timers (
    instance_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    payload     TEXT NOT NULL,
    PRIMARY KEY (instance_id, key)
) WITHOUT ROWID;
CREATE INDEX timers_due ON timers (due_at);
