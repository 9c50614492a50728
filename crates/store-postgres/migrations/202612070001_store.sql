-- Baton's store on PostgreSQL, for several engine nodes sharing one database: the same tables
-- as the embedded SQLite store, with PostgreSQL's types (timestamps with time zone, identity
-- columns). Instance states, history and payloads are JSON text; PostgreSQL compresses large
-- values itself (TOAST).

CREATE TABLE definitions (
    id          TEXT        NOT NULL,
    version     INTEGER     NOT NULL,
    file        TEXT        NOT NULL,
    source      TEXT        NOT NULL,
    deployed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE calendars (
    id          TEXT        NOT NULL,
    version     INTEGER     NOT NULL,
    file        TEXT        NOT NULL,
    source      TEXT        NOT NULL,
    deployed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE instances (
    id                 TEXT        NOT NULL PRIMARY KEY,
    definition_id      TEXT        NOT NULL,
    definition_version INTEGER     NOT NULL,
    status             TEXT        NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    ended_at           TIMESTAMPTZ,
    -- next history sequence number: an update must name the one it read (optimistic concurrency)
    seq                BIGINT      NOT NULL,
    state_format       INTEGER     NOT NULL,
    state              TEXT        NOT NULL,
    parent_id          TEXT,
    case_id            TEXT        NOT NULL,
    root_id            TEXT,
    work_status        TEXT,
    link_kind          TEXT,
    -- The department scope: only its department's users see it (none: everyone).
    department         TEXT
);
CREATE INDEX instances_open ON instances (status) WHERE status IN ('running', 'waiting', 'blocked');
CREATE INDEX instances_created ON instances (created_at, id);
CREATE INDEX instances_parent ON instances (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX instances_process ON instances (definition_id, created_at);
CREATE INDEX instances_case ON instances (case_id, created_at);
CREATE INDEX instances_by_department ON instances (department, created_at DESC, id DESC);

-- One row per step: the step's events as a JSON array, from `first_seq` on.
CREATE TABLE history (
    instance_id TEXT   NOT NULL,
    first_seq   BIGINT NOT NULL,
    events      TEXT   NOT NULL,
    PRIMARY KEY (instance_id, first_seq)
);

CREATE TABLE start_keys (
    key         TEXT        NOT NULL PRIMARY KEY,
    instance_id TEXT        NOT NULL,
    fingerprint TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- The job queue, both kinds: a job with a topic is an external worker's. A claimed job has an
-- owner, an expiry and a lease number (its fencing token), taken with FOR UPDATE SKIP LOCKED.
CREATE TABLE jobs (
    instance_id TEXT        NOT NULL,
    task        TEXT        NOT NULL,
    attempt     INTEGER     NOT NULL,
    request     TEXT        NOT NULL,
    queued_at   TIMESTAMPTZ NOT NULL,
    owner       TEXT,
    lease_until TIMESTAMPTZ,
    lease       BIGINT      NOT NULL DEFAULT 0,
    topic       TEXT,
    PRIMARY KEY (instance_id, task)
);
CREATE INDEX jobs_queued ON jobs (topic, queued_at) WHERE owner IS NULL;
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE owner IS NOT NULL;

CREATE TABLE job_processes (
    instance_id TEXT    NOT NULL,
    task        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    pid         BIGINT  NOT NULL,
    pgid        BIGINT  NOT NULL,
    identity    TEXT    NOT NULL,
    PRIMARY KEY (instance_id, task, attempt)
);

CREATE TABLE timers (
    instance_id TEXT        NOT NULL,
    key         TEXT        NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    payload     TEXT        NOT NULL,
    owner       TEXT,
    lease_until TIMESTAMPTZ,
    lease       BIGINT      NOT NULL DEFAULT 0,
    PRIMARY KEY (instance_id, key)
);
CREATE INDEX timers_due ON timers (due_at);

CREATE TABLE task_runtimes (
    process_id  TEXT   NOT NULL,
    task        TEXT   NOT NULL,
    n           BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (process_id, task, n)
);

CREATE TABLE incidents (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id TEXT        NOT NULL,
    task        TEXT,
    kind        TEXT        NOT NULL,
    reason      TEXT        NOT NULL,
    command     TEXT,
    attempts    INTEGER     NOT NULL,
    raised_at   TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ,
    resolved_by TEXT,
    resolution  TEXT
);
CREATE INDEX incidents_by_instance ON incidents (instance_id, id);
CREATE INDEX incidents_open ON incidents (id) WHERE resolved_at IS NULL;

CREATE TABLE foreach_snapshots (
    instance_id TEXT    NOT NULL,
    task        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    snapshot    TEXT    NOT NULL,
    PRIMARY KEY (instance_id, task, attempt)
);

CREATE TABLE documents (
    id            TEXT        NOT NULL PRIMARY KEY,
    name          TEXT        NOT NULL,
    document_type TEXT,
    content_type  TEXT        NOT NULL,
    size          BIGINT      NOT NULL,
    sha256        TEXT        NOT NULL,
    created_by    TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    version       INTEGER     NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    metadata      TEXT        NOT NULL
);
CREATE TABLE document_refs (
    document_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    PRIMARY KEY (document_id, instance_id)
);
CREATE INDEX document_refs_instance ON document_refs (instance_id);

-- Event correlation: a key is stored as text, the empty text for "no key".
CREATE TABLE event_subscriptions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL,
    key         TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    task        TEXT NOT NULL,
    UNIQUE (instance_id, task)
);
CREATE INDEX event_subscriptions_by_key ON event_subscriptions (name, key, id);

CREATE TABLE published_events (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT        NOT NULL UNIQUE,
    name           TEXT        NOT NULL,
    key            TEXT        NOT NULL,
    data           TEXT        NOT NULL,
    published_at   TIMESTAMPTZ NOT NULL,
    state          TEXT        NOT NULL,
    buffered_until TIMESTAMPTZ,
    remember_until TIMESTAMPTZ NOT NULL,
    resumed        INTEGER     NOT NULL DEFAULT 0
);
CREATE INDEX published_events_buffered ON published_events (name, key, seq) WHERE state = 'buffered';
CREATE INDEX published_events_expiring ON published_events (buffered_until) WHERE state = 'buffered';
CREATE INDEX published_events_pending ON published_events (published_at) WHERE state = 'pending';
CREATE INDEX published_events_forgotten ON published_events (remember_until);

-- People: departments, users, groups, API tokens. Names sort by their bytes (collation "C"),
-- as SQLite's do, whatever the database's default collation.
CREATE TABLE departments (
    name       TEXT        COLLATE "C" NOT NULL PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE users (
    name       TEXT        COLLATE "C" NOT NULL PRIMARY KEY,
    department TEXT        REFERENCES departments (name),
    admin      BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE user_groups (
    name       TEXT        COLLATE "C" NOT NULL PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE group_members (
    group_name TEXT COLLATE "C" NOT NULL REFERENCES user_groups (name),
    user_name  TEXT COLLATE "C" NOT NULL REFERENCES users (name),
    PRIMARY KEY (group_name, user_name)
);
CREATE INDEX group_members_by_user ON group_members (user_name, group_name);
-- The built-in operator: who acts when no one is named.
INSERT INTO users (name, department, admin, created_at) VALUES ('operator', NULL, FALSE, now());

CREATE TABLE api_tokens (
    id          TEXT        NOT NULL PRIMARY KEY,
    user_name   TEXT        NOT NULL REFERENCES users (name),
    name        TEXT,
    secret_hash TEXT        NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_name, created_at);

-- The inbox: one row per human task, and one per candidate who may see it. A due key is an
-- RFC 3339 time or `~` (no due date), which sorts after every time in byte order.
CREATE TABLE inbox_tasks (
    instance_id TEXT        NOT NULL,
    task        TEXT        NOT NULL,
    human_task  INTEGER     NOT NULL,
    process_id  TEXT        NOT NULL,
    title       TEXT        NOT NULL,
    status      TEXT        NOT NULL,
    owner       TEXT,
    priority    INTEGER     NOT NULL,
    due_key     TEXT        COLLATE "C" NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    escalated   BOOLEAN     NOT NULL,
    department  TEXT,
    PRIMARY KEY (instance_id, task, human_task)
);
CREATE INDEX inbox_tasks_by_owner ON inbox_tasks (owner, priority DESC, due_key, created_at, instance_id, task, human_task) WHERE owner IS NOT NULL;
CREATE TABLE inbox_candidates (
    who         TEXT        NOT NULL,
    status      TEXT        NOT NULL,
    priority    INTEGER     NOT NULL,
    due_key     TEXT        COLLATE "C" NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    instance_id TEXT        NOT NULL,
    task        TEXT        NOT NULL,
    human_task  INTEGER     NOT NULL,
    process_id  TEXT        NOT NULL,
    escalated   BOOLEAN     NOT NULL,
    department  TEXT,
    PRIMARY KEY (who, status, priority, due_key, created_at, instance_id, task, human_task)
);
CREATE INDEX inbox_candidates_of_task ON inbox_candidates (instance_id, task);

-- Document content, content-addressed: one row per SHA-256, shared by every document (and
-- copy) with that content, so every node reads what any node stored.
CREATE TABLE document_contents (
    sha256  TEXT  NOT NULL PRIMARY KEY,
    content BYTEA NOT NULL
);

-- Siebel's interactive workflows in user sessions: the sessions the servers hold open (so a
-- server that stopped or crashed logs its own out when it starts again), and one row per
-- interactive workflow that has not ended, listed in one open session's cache (`session_id`)
-- or suspended in its owner's inbox (`suspended_at`, `why`, `note`).
CREATE TABLE interactive_sessions (
    id         TEXT        NOT NULL PRIMARY KEY,
    user_name  TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE interactive_workflows (
    instance_id  TEXT        NOT NULL PRIMARY KEY,
    owner        TEXT        NOT NULL,
    process      TEXT        NOT NULL,
    auto_persist BOOLEAN     NOT NULL,
    session_id   TEXT,
    suspended_at TIMESTAMPTZ,
    why          TEXT,
    note         TEXT,
    CHECK ((session_id IS NULL) <> (suspended_at IS NULL))
);
CREATE INDEX interactive_workflows_inbox ON interactive_workflows (owner, suspended_at) WHERE session_id IS NULL;
CREATE INDEX interactive_workflows_cached ON interactive_workflows (session_id) WHERE session_id IS NOT NULL;

-- A workflow that completes or is aborted (a deleted one is aborted) leaves the inbox and the
-- caches in the step that ends it.
CREATE FUNCTION interactive_workflows_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM interactive_workflows WHERE instance_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER interactive_workflows_end AFTER UPDATE OF status ON instances
FOR EACH ROW WHEN (NEW.status IN ('completed', 'aborted'))
EXECUTE FUNCTION interactive_workflows_end();
