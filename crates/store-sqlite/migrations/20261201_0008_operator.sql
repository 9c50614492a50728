-- The built-in user `operator`: who acts when an operator command (abort, retry, skip, input,
-- breakpoint, delete) is given without `--as`. Every database has it, so the default names a
-- user like every other `--as`. It is not an administrator. A user of that name added before
-- is kept as it is. Never edit a released migration: add a new one.
INSERT OR IGNORE INTO users (name, department, admin, created_at)
VALUES ('operator', NULL, 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
