-- External jobs: a job with a topic is fetched and locked by a worker outside Baton; one
-- without (every job queued before this migration) is run by Baton's own worker.
ALTER TABLE jobs ADD COLUMN topic TEXT;

-- Queued jobs by topic (NULL: Baton's worker), oldest first.
DROP INDEX jobs_queued;
CREATE INDEX jobs_queued ON jobs (topic, queued_at) WHERE owner IS NULL;

-- Locks held on external jobs, by when they expire.
CREATE INDEX jobs_locked ON jobs (lease_until) WHERE owner IS NOT NULL AND topic IS NOT NULL;
