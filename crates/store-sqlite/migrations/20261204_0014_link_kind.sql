-- How each instance is linked to its parent (iteration, call, handoff, spawned, peer), as a
-- column, so that a listing (a case, an instance's children) says it without reading states.
ALTER TABLE instances ADD COLUMN link_kind TEXT;

-- Instances stored before: the previous release made only ForEach iterations, whose process is
-- their body (`PROCESS/TASK`). A development build before this column also made calls and
-- hand-offs (and spawned and peer instances, which SQL cannot tell from them: their states are
-- compressed); a child of such a build without a root reads as handed off, any other as called.
UPDATE instances SET link_kind = CASE
        WHEN instr(definition_id, '/') > 0 THEN 'iteration'
        WHEN root_id IS NULL THEN 'handoff'
        ELSE 'call'
    END
WHERE parent_id IS NOT NULL;
