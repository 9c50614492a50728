-- The inbox (issue 4): the open human tasks of `user` tasks, and who may work each of them.
-- Rows are replaced in the transaction of every step that changes a user task and removed
-- when its human tasks end, so both tables hold open work only.
-- Never edit a released migration: add a new one.

-- One row per open human task (ready or claimed, suspended or not). `due_key` is the due date,
-- or '~' (after every date) when there is none, so that tasks without one sort last.
CREATE TABLE inbox_tasks (
    instance_id TEXT    NOT NULL,
    task        TEXT    NOT NULL,
    human_task  INTEGER NOT NULL,
    process_id  TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    owner       TEXT,
    priority    INTEGER NOT NULL,
    due_key     TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    escalated   INTEGER NOT NULL CHECK (escalated IN (0, 1)),
    PRIMARY KEY (instance_id, task, human_task)
) WITHOUT ROWID;
-- "Claimed by me", already in inbox order.
CREATE INDEX inbox_tasks_by_owner ON inbox_tasks (owner, priority DESC, due_key, created_at, instance_id, task, human_task)
    WHERE owner IS NOT NULL;

-- Who may claim each open, unclaimed human task: `u:NAME` and `g:NAME` for its potential owners, `au:NAME`
-- and `ag:NAME` for its administrators. The sort columns are copied here so that one index scan
-- per name yields its tasks in inbox order, and a page merges those scans (no sort of all rows).
CREATE TABLE inbox_candidates (
    who         TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    priority    INTEGER NOT NULL,
    due_key     TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    instance_id TEXT    NOT NULL,
    task        TEXT    NOT NULL,
    human_task  INTEGER NOT NULL,
    process_id  TEXT    NOT NULL,
    escalated   INTEGER NOT NULL CHECK (escalated IN (0, 1)),
    PRIMARY KEY (who, status, priority DESC, due_key, created_at, instance_id, task, human_task)
) WITHOUT ROWID;
-- Replacing a user task's rows.
CREATE INDEX inbox_candidates_of_task ON inbox_candidates (instance_id, task);
