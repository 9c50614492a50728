-- Department scoping (Stardust): an instance's department, which only that department's
-- users (and administrators) may see. A root takes it from its start data; everything it
-- starts inherits it. NULL: unscoped (every instance before this migration).
-- Never edit a released migration: add a new one.
ALTER TABLE instances ADD COLUMN department TEXT;
-- A listing for a user of a department reads their department's instances (and the
-- unscoped ones) newest first.
CREATE INDEX instances_by_department ON instances (department, created_at DESC, id DESC);

-- The inbox shows a user only the tasks of instances they may see: each row carries its
-- instance's department, so the inbox query filters on it without reading instances.
ALTER TABLE inbox_tasks ADD COLUMN department TEXT;
ALTER TABLE inbox_candidates ADD COLUMN department TEXT;
