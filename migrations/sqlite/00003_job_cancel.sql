-- +goose Up
-- Jobs can be canceled: their queued items end in the state 'canceled'.
-- SQLite cannot alter a CHECK constraint: the table is rebuilt, rowids
-- (the claim order) kept.
CREATE TABLE job_items_new (
    job_id        TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,
    remote        TEXT NOT NULL DEFAULT '',
    path          TEXT NOT NULL DEFAULT '',
    url           TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'cached', 'already_cached', 'denied', 'failed', 'canceled')),
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
INSERT INTO job_items_new (rowid, job_id, idx, remote, path, url, state, reason, bytes_done, bytes_total, attempts, started_at, finished_at, claimed_by, claimed_until)
    SELECT rowid, job_id, idx, remote, path, url, state, reason, bytes_done, bytes_total, attempts, started_at, finished_at, claimed_by, claimed_until FROM job_items;
DROP TABLE job_items;
ALTER TABLE job_items_new RENAME TO job_items;
CREATE INDEX job_items_pending_idx ON job_items (state) WHERE state IN ('queued', 'running');

-- +goose Down
CREATE TABLE job_items_old (
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
INSERT INTO job_items_old (rowid, job_id, idx, remote, path, url, state, reason, bytes_done, bytes_total, attempts, started_at, finished_at, claimed_by, claimed_until)
    SELECT rowid, job_id, idx, remote, path, url,
        CASE state WHEN 'canceled' THEN 'failed' ELSE state END,
        CASE state WHEN 'canceled' THEN 'canceled' ELSE reason END,
        bytes_done, bytes_total, attempts, started_at, finished_at, claimed_by, claimed_until
    FROM job_items;
DROP TABLE job_items;
ALTER TABLE job_items_old RENAME TO job_items;
CREATE INDEX job_items_pending_idx ON job_items (state) WHERE state IN ('queued', 'running');
