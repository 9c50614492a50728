-- How each instance is linked to its parent (iteration, call, handoff, spawned, peer), as a
-- column, so that a listing (a case, an instance's children) says it without reading states.
ALTER TABLE instances ADD COLUMN link_kind TEXT;

-- Instances stored before: a child without a root was handed off (a hand-off lives on its
-- own), one whose process is a ForEach body (`PROCESS/TASK`) is an iteration, and every other
-- child was started by a `call` (no other kind of link was made before this column).
UPDATE instances SET link_kind = CASE
        WHEN root_id IS NULL THEN 'handoff'
        WHEN instr(definition_id, '/') > 0 THEN 'iteration'
        ELSE 'call'
    END
WHERE parent_id IS NOT NULL;
