-- A layout for many small commands on open instances (issue 5, W2), where every command
-- rewrites its instance's state and appends its events. Never edit a released migration.
--
-- 1. Instances move to a rowid table with an integer key. In the WITHOUT ROWID table every
--    state over ~1 KB spilled into overflow pages of its own, so each step rewrote two or
--    three pages for its instance; in a rowid table a state of a few KB stays on a leaf page
--    it shares.
-- 2. History keeps one row per step (the step's events as a JSON array, `first_seq` the seq
--    of its first event), appended in commit order under an integer key. Events used to be a
--    row each under (instance_id, seq), which scattered each step's writes over the pages of
--    every open instance's history; now the rows fill pages in order, and per instance only
--    the (instance_key, first_seq) index is touched, whose entries are a few bytes (the
--    instance's integer key, not its 36-character id).

CREATE TABLE instances_v5 (
    key                INTEGER PRIMARY KEY,
    id                 TEXT    NOT NULL UNIQUE,
    definition_id      TEXT    NOT NULL,
    definition_version INTEGER NOT NULL,
    status             TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    ended_at           TEXT,
    -- next history sequence number: an update must name the one it read (optimistic concurrency)
    seq                INTEGER NOT NULL,
    state_format       INTEGER NOT NULL,
    state              TEXT    NOT NULL,
    parent_id          TEXT
);
INSERT INTO instances_v5 (id, definition_id, definition_version, status, created_at, updated_at, ended_at, seq, state_format, state, parent_id)
    SELECT id, definition_id, definition_version, status, created_at, updated_at, ended_at, seq, state_format, state, parent_id FROM instances ORDER BY id;
DROP TABLE instances;
ALTER TABLE instances_v5 RENAME TO instances;
CREATE INDEX instances_open ON instances (status) WHERE status IN ('running', 'waiting', 'blocked');
CREATE INDEX instances_created ON instances (created_at);
CREATE INDEX instances_parent ON instances (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE history_v5 (
    pos          INTEGER PRIMARY KEY,
    instance_key INTEGER NOT NULL REFERENCES instances (key),
    first_seq    INTEGER NOT NULL,
    events       TEXT    NOT NULL
);
INSERT INTO history_v5 (instance_key, first_seq, events)
    SELECT i.key, h.seq, json_array(json(h.event)) FROM history h JOIN instances i ON i.id = h.instance_id ORDER BY h.instance_id, h.seq;
DROP TABLE history;
ALTER TABLE history_v5 RENAME TO history;
CREATE UNIQUE INDEX history_by_instance ON history (instance_key, first_seq);
