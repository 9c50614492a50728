-- Schedules: what each starts (its spec, as JSON) and its place among its slots: the next
-- slot to look at, the instance it started last, and a slot waiting for that instance to end.
CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    process TEXT NOT NULL,
    spec TEXT NOT NULL,
    from_definition INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    next_at TEXT,
    last_instance TEXT,
    buffered TEXT
);
CREATE INDEX schedules_due ON schedules (next_at) WHERE paused = 0;

-- Every slot a schedule took, once: the key is what makes two nodes looking at the same
-- schedule take each slot once.
CREATE TABLE schedule_slots (
    schedule_id TEXT NOT NULL,
    slot_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (schedule_id, slot_at)
) WITHOUT ROWID;
