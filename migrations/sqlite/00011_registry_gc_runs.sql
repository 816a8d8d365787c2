-- +goose Up
-- Garbage collections of the local docker repositories (POST /registry/gc,
-- the dashboard's button): what each removed, so that the last result is the
-- same on every replica and survives restarts. Times are unix nanoseconds.
CREATE TABLE oci_gc_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_by  TEXT NOT NULL,             -- who started it: api, dashboard
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL DEFAULT 0, -- 0 while it runs
    uploads     INTEGER NOT NULL DEFAULT 0, -- abandoned upload sessions removed
    blobs       INTEGER NOT NULL DEFAULT 0, -- unreferenced blobs removed
    bytes       INTEGER NOT NULL DEFAULT 0, -- their size
    error       TEXT NOT NULL DEFAULT ''    -- '' when it succeeded
);

-- +goose Down
DROP TABLE oci_gc_runs;
