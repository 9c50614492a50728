-- Siebel's interactive workflows in user sessions.
--
-- The sessions a server holds open, so that one that stopped or crashed logs them out when
-- it starts again.
CREATE TABLE interactive_sessions (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- One row per interactive workflow that has not ended: listed in one open session's cache
-- (`session_id`), or suspended in its owner's inbox (`suspended_at`, `why`: explicit or
-- implicit, and a note on what made it leave a cache).
CREATE TABLE interactive_workflows (
    instance_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    process TEXT NOT NULL,
    auto_persist INTEGER NOT NULL,
    session_id TEXT,
    suspended_at TEXT,
    why TEXT,
    note TEXT,
    CHECK ((session_id IS NULL) <> (suspended_at IS NULL))
);
CREATE INDEX interactive_workflows_inbox ON interactive_workflows (owner, suspended_at) WHERE session_id IS NULL;
CREATE INDEX interactive_workflows_cached ON interactive_workflows (session_id) WHERE session_id IS NOT NULL;

-- A workflow that completes or is aborted (a deleted one is aborted) leaves the inbox and
-- the caches in the step that ends it.
CREATE TRIGGER interactive_workflows_end AFTER UPDATE OF status ON instances
WHEN NEW.status IN ('completed', 'aborted')
BEGIN
    DELETE FROM interactive_workflows WHERE instance_id = NEW.id;
END;
