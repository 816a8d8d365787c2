-- +goose Up
-- Batch cache jobs (PRODUCT §2 /cache-artifact, /jobs); see the PostgreSQL
-- migration. Times are INTEGER unix nanoseconds (UTC), NULL when unset.
-- Creation and claim order is the rowid.
CREATE TABLE jobs (
    id         TEXT PRIMARY KEY,
    remote     TEXT NULL, -- NULL: a job of URLs, each item names its remote
    state      TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done')),
    pin        INTEGER NOT NULL DEFAULT 0 CHECK (pin IN (0, 1)),
    items      INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE job_items (
    job_id        TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,
    remote        TEXT NOT NULL DEFAULT '',
    path          TEXT NOT NULL DEFAULT '',
    url           TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'cached', 'already_cached', 'denied', 'failed')),
    reason        TEXT NOT NULL DEFAULT '',
    bytes_done    INTEGER NOT NULL DEFAULT 0,
    bytes_total   INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    started_at    INTEGER NULL,
    finished_at   INTEGER NULL,
    claimed_by    TEXT NULL,
    claimed_until INTEGER NULL,
    PRIMARY KEY (job_id, idx)
);

CREATE INDEX job_items_pending_idx ON job_items (state) WHERE state IN ('queued', 'running');

-- +goose Down
DROP TABLE job_items;
DROP TABLE jobs;
