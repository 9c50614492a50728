-- The instance hierarchy (state format 2): each instance's case (the id linking the instances
-- users track as one entity), its root (the topmost instance it is a sub-process of; NULL for
-- a root) and the work status a hand-off recorded (Pega's Work Status), as columns, so that a
-- case is listed without reading states.
ALTER TABLE instances ADD COLUMN case_id TEXT;
ALTER TABLE instances ADD COLUMN root_id TEXT;
ALTER TABLE instances ADD COLUMN work_status TEXT;

-- Instances stored before: only ForEach iterations had a parent, and every one of them is a
-- sub-process of its topmost ancestor, which is its root and names its case.
WITH RECURSIVE up (id, top) AS (
    SELECT id, id FROM instances WHERE parent_id IS NULL
    UNION ALL
    SELECT i.id, up.top FROM instances i JOIN up ON i.parent_id = up.id
)
UPDATE instances SET
    case_id = (SELECT top FROM up WHERE up.id = instances.id),
    root_id = CASE WHEN parent_id IS NULL THEN NULL ELSE (SELECT top FROM up WHERE up.id = instances.id) END;
UPDATE instances SET case_id = id WHERE case_id IS NULL;

CREATE INDEX instances_case ON instances (case_id, created_at);
