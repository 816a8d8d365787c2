-- +goose Up
-- Upstream health and traffic per remote, shared by the replicas: each one
-- aggregates what it sees in memory and adds it here every few seconds.
-- remote_traffic holds one row per remote and minute (minute = unix seconds
-- of its start), pruned after a day, plus the remote's lifetime totals in
-- the row of minute 0.
CREATE TABLE remote_traffic (
    remote          TEXT NOT NULL,
    minute          INTEGER NOT NULL,
    upstream_ok     INTEGER NOT NULL DEFAULT 0, -- upstream exchanges that got an answer
    upstream_errors INTEGER NOT NULL DEFAULT 0, -- upstream exchanges that failed
    bad_answers     INTEGER NOT NULL DEFAULT 0, -- of those, the ones the upstream answered (5xx, 429, a cut body…)
    latency_us      INTEGER NOT NULL DEFAULT 0, -- summed time to response headers
    latency_count   INTEGER NOT NULL DEFAULT 0,
    stale_serves    INTEGER NOT NULL DEFAULT 0, -- expired copies served because the upstream failed
    cache_requests  INTEGER NOT NULL DEFAULT 0, -- requests answered from the cache
    remote_requests INTEGER NOT NULL DEFAULT 0, -- requests answered through a download
    cache_bytes     INTEGER NOT NULL DEFAULT 0, -- bytes sent from the cache (upstream bytes saved)
    remote_bytes    INTEGER NOT NULL DEFAULT 0, -- bytes sent while downloading
    upstream_bytes  INTEGER NOT NULL DEFAULT 0, -- bytes downloaded from the upstream
    PRIMARY KEY (remote, minute)
);
CREATE INDEX remote_traffic_minute_idx ON remote_traffic (minute);

-- The latest upstream contact of each remote (times in unix nanoseconds,
-- 0: never). The error message is scrubbed of secrets before it is stored.
CREATE TABLE remote_health (
    remote        TEXT PRIMARY KEY,
    last_success  INTEGER NOT NULL DEFAULT 0,
    last_error    INTEGER NOT NULL DEFAULT 0,
    error_kind    TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    last_stale    INTEGER NOT NULL DEFAULT 0
);

-- The most requested artifacts of a remote (dashboard overview).
CREATE INDEX artifacts_remote_hits_idx ON artifacts (remote, hits);

-- +goose Down
DROP INDEX artifacts_remote_hits_idx;
DROP TABLE remote_health;
DROP TABLE remote_traffic;
