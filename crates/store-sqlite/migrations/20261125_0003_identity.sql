-- Identity (issue 4): users, their departments, groups and group members. People are referred
-- to by name everywhere (potential owners, claims, history), so names are the keys.
-- Never edit a released migration: add a new one.
CREATE TABLE departments (
    name       TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    name       TEXT    NOT NULL PRIMARY KEY,
    department TEXT    REFERENCES departments (name),
    admin      INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    created_at TEXT    NOT NULL
) WITHOUT ROWID;

-- `groups` is an SQL keyword (window frames), hence `user_groups`.
CREATE TABLE user_groups (
    name       TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL
) WITHOUT ROWID;

-- The primary key serves "members of a group" (resolving potential owners); the second index
-- serves "groups of a user" (authorizing every task operation).
CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES user_groups (name),
    user_name  TEXT NOT NULL REFERENCES users (name),
    PRIMARY KEY (group_name, user_name)
) WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members (user_name, group_name);
