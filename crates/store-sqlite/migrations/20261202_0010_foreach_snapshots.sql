-- ForEach snapshots: the process data and the item list one run of a ForEach task shares with
-- its iterations, stored once per run (parent instance, task, attempt) instead of copied into
-- every iteration. A row lives while its run does. Never edit a released migration.
CREATE TABLE foreach_snapshots (
    instance_id TEXT    NOT NULL,
    task        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    -- the snapshot as JSON, LZ4-compressed (the size prepended)
    snapshot    BLOB    NOT NULL,
    PRIMARY KEY (instance_id, task, attempt)
);
