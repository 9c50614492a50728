-- Leases for several engine nodes: every claim of a job's row takes a new lease, whose number
-- (a fencing token) a step applying the attempt's result names, so a node that lost the
-- lease (it expired and another node took it) is refused.
ALTER TABLE jobs ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;

-- Due timers are claimed the same way by the node that fires them: an owner, an expiry and a
-- lease number; a timer whose node died while firing it is claimable again once its lease
-- expired.
ALTER TABLE timers ADD COLUMN owner TEXT;
ALTER TABLE timers ADD COLUMN lease_until TEXT;
ALTER TABLE timers ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;

-- Leases held on jobs of either kind, by when they expire (the takeover of expired leases).
DROP INDEX jobs_locked;
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE owner IS NOT NULL;
