-- +goose Up
-- Cleanup policies: saved criteria that evict cached artifacts, run by hand
-- or every `every_s` seconds by one replica (the one that moves next_run_at
-- on), with the history of their runs. Times are unix nanoseconds;
-- durations seconds (0: criterion not used).
CREATE TABLE cleanup_policies (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT NOT NULL UNIQUE,
    remote            TEXT NOT NULL DEFAULT '',   -- '' for every cached remote
    cached_before_s   INTEGER NOT NULL DEFAULT 0, -- cached more than this long ago
    accessed_before_s INTEGER NOT NULL DEFAULT 0, -- last access more than this long ago
    unused_for_s      INTEGER NOT NULL DEFAULT 0, -- never served since cached, cached more than this long ago
    larger_than       INTEGER NOT NULL DEFAULT 0, -- bytes
    query             TEXT NOT NULL DEFAULT '',   -- substring of the path, or a regular expression
    regex             INTEGER NOT NULL DEFAULT 0,
    every_s           INTEGER NOT NULL DEFAULT 0, -- schedule; 0: by hand only
    next_run_at       INTEGER NOT NULL DEFAULT 0, -- 0: not scheduled
    declared          INTEGER NOT NULL DEFAULT 0, -- 1: declared in remotes.yaml (changed only by the file)
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE cleanup_policy_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    policy_id     INTEGER NOT NULL REFERENCES cleanup_policies (id) ON DELETE CASCADE,
    started_by    TEXT NOT NULL,              -- schedule, dashboard, api
    scheduled_for INTEGER NOT NULL DEFAULT 0, -- the slot a scheduled run took; 0 by hand
    instance      TEXT NOT NULL DEFAULT '',   -- the replica that ran it
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER NOT NULL DEFAULT 0, -- 0 while it runs
    matched       INTEGER NOT NULL DEFAULT 0,
    evicted       INTEGER NOT NULL DEFAULT 0,
    bytes         INTEGER NOT NULL DEFAULT 0, -- bytes freed
    errors        INTEGER NOT NULL DEFAULT 0, -- artifacts that could not be evicted
    error         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX cleanup_policy_runs_policy ON cleanup_policy_runs (policy_id, id);

-- +goose Down
DROP TABLE cleanup_policy_runs;
DROP TABLE cleanup_policies;
