-- Event correlation: the subscriptions of waiting `wait` tasks and the published events.
--
-- A subscription is found by its event's name and correlation key (an empty key for a task
-- without one) through an index, never by a scan; `id` grows with every subscription stored,
-- so a publisher can tell whether one arrived after it looked.
CREATE TABLE event_subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    task TEXT NOT NULL,
    UNIQUE (instance_id, task)
);
CREATE INDEX event_subscriptions_by_key ON event_subscriptions (name, key, id);

-- Published events, by id (idempotency) until `remember_until`; `state` is pending,
-- buffered, delivered or expired. The payload is kept while it may still be delivered.
CREATE TABLE published_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    published_at TEXT NOT NULL,
    state TEXT NOT NULL,
    buffered_until TEXT,
    remember_until TEXT NOT NULL,
    resumed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX published_events_buffered ON published_events (name, key, seq) WHERE state = 'buffered';
CREATE INDEX published_events_expiring ON published_events (buffered_until) WHERE state = 'buffered';
CREATE INDEX published_events_pending ON published_events (published_at) WHERE state = 'pending';
CREATE INDEX published_events_forgotten ON published_events (remember_until);
