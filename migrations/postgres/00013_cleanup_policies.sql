-- +goose Up
-- Cleanup policies: saved criteria that evict cached artifacts, run by hand
-- or every `every_s` seconds by one replica (the one that moves next_run_at
-- on), with the history of their runs. Times are unix nanoseconds;
-- durations seconds (0: criterion not used).
CREATE TABLE cleanup_policies (
    id                bigserial PRIMARY KEY,
    name              text NOT NULL UNIQUE,
    remote            text NOT NULL DEFAULT '',   -- '' for every cached remote
    cached_before_s   bigint NOT NULL DEFAULT 0, -- cached more than this long ago
    accessed_before_s bigint NOT NULL DEFAULT 0, -- last access more than this long ago
    unused_for_s      bigint NOT NULL DEFAULT 0, -- never served since cached, cached more than this long ago
    larger_than       bigint NOT NULL DEFAULT 0, -- bytes
    query             text NOT NULL DEFAULT '',   -- substring of the path, or a regular expression
    regex             boolean NOT NULL DEFAULT false,
    every_s           bigint NOT NULL DEFAULT 0, -- schedule; 0: by hand only
    next_run_at       bigint NOT NULL DEFAULT 0, -- 0: not scheduled
    declared          boolean NOT NULL DEFAULT false, -- declared in remotes.yaml (changed only by the file)
    created_at        bigint NOT NULL,
    updated_at        bigint NOT NULL
);

CREATE TABLE cleanup_policy_runs (
    id            bigserial PRIMARY KEY,
    policy_id     bigint NOT NULL REFERENCES cleanup_policies (id) ON DELETE CASCADE,
    started_by    text NOT NULL,              -- schedule, dashboard, api
    scheduled_for bigint NOT NULL DEFAULT 0, -- the slot a scheduled run took; 0 by hand
    instance      text NOT NULL DEFAULT '',   -- the replica that ran it
    started_at    bigint NOT NULL,
    finished_at   bigint NOT NULL DEFAULT 0, -- 0 while it runs
    matched       bigint NOT NULL DEFAULT 0,
    evicted       bigint NOT NULL DEFAULT 0,
    bytes         bigint NOT NULL DEFAULT 0, -- bytes freed
    errors        bigint NOT NULL DEFAULT 0, -- artifacts that could not be evicted
    error         text NOT NULL DEFAULT ''
);
CREATE INDEX cleanup_policy_runs_policy ON cleanup_policy_runs (policy_id, id);

-- +goose Down
DROP TABLE cleanup_policy_runs;
DROP TABLE cleanup_policies;
