-- Calendars (Automic Calendar Events), deployable like definitions.
CREATE TABLE calendars (
    id          TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    file        TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    deployed_at TEXT    NOT NULL,
    PRIMARY KEY (id, version)
) WITHOUT ROWID;

-- The last runs of each task, for its learned expected runtime (ERT). Bounded: only the
-- most recent runs per task are kept.
CREATE TABLE task_runtimes (
    process_id  TEXT    NOT NULL,
    task        TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (process_id, task, n)
) WITHOUT ROWID;

-- ForEach iterations are child instances; the parent finds its open children here.
ALTER TABLE instances ADD COLUMN parent_id TEXT;
CREATE INDEX instances_parent ON instances (parent_id) WHERE parent_id IS NOT NULL;
