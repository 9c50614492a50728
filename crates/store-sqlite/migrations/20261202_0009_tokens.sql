-- API tokens. Only the SHA-256 of a token's secret is kept (`secret_hash`, unique: requests
-- find their token by it). Never edit a released migration: add a new one.
CREATE TABLE api_tokens (
    id          TEXT NOT NULL PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES users (name),
    name        TEXT,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
) WITHOUT ROWID;
CREATE INDEX api_tokens_by_user ON api_tokens (user_name, created_at);
