-- Passwords for signing in to the web UI. Only an argon2 hash (a PHC string, with its salt and
-- parameters) is kept, one per user; setting a new one replaces it. Never edit a released
-- migration: add a new one.
CREATE TABLE passwords (
    user_name TEXT NOT NULL PRIMARY KEY REFERENCES users (name),
    hash      TEXT NOT NULL,
    set_at    TEXT NOT NULL
) WITHOUT ROWID;
