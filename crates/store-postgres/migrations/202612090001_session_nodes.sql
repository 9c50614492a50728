-- Each open session records the node that holds it in memory, and each node its lease as a
-- node, renewed while it runs: the sessions of a node whose lease expired are taken over by
-- one live node, which logs them out. A session recorded before this has no node ('') and is
-- taken over as a dead node's.
ALTER TABLE interactive_sessions ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX interactive_sessions_node ON interactive_sessions (node);
CREATE TABLE nodes (
    id          TEXT        NOT NULL PRIMARY KEY,
    lease_until TIMESTAMPTZ NOT NULL
);
