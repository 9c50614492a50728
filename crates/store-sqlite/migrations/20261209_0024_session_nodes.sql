-- Each open session records the node (server process) that holds it in memory, and each node
-- its lease as a node, renewed while it runs: the sessions of a node whose lease expired are
-- taken over by a live node, which logs them out. A session recorded before this has no node
-- ('') and is taken over as a dead node's.
ALTER TABLE interactive_sessions ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    lease_until TEXT NOT NULL
);
