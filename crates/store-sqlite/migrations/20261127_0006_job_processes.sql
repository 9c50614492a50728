-- The process of each job attempt that was started: its process group and what identifies its
-- leader against pid reuse. Never edit a released migration: add a new one.
--
-- A table of its own, not columns of `jobs`: a queue row goes with the step that cancels the
-- job or queues its next attempt, while the attempt's processes may still be stopping. The
-- worker removes a record once no process of the group is left, so after a crash the next
-- worker finds here exactly the groups it must stop before it runs those jobs again.
CREATE TABLE job_processes (
    instance_id TEXT    NOT NULL,
    task        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    pid         INTEGER NOT NULL,
    pgid        INTEGER NOT NULL,
    identity    TEXT    NOT NULL,
    PRIMARY KEY (instance_id, task, attempt)
) WITHOUT ROWID;
