-- +goose Up
-- Batch cache jobs (PRODUCT §2 /cache-artifact, /jobs). A job is a list of
-- items; workers of every replica claim queued items with a lease
-- (claimed_by, claimed_until) so that each item is fetched by one replica
-- and an item whose claimant died is taken over when its lease expires.
-- Times come from the database clock (now()), shared by all replicas.
CREATE TABLE jobs (
    id         uuid PRIMARY KEY,
    seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE, -- creation order
    remote     text COLLATE "C" NULL, -- NULL: a job of URLs, each item names its remote
    state      text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done')),
    pin        boolean NOT NULL DEFAULT false,
    items      integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE job_items (
    job_id        uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx           integer NOT NULL,
    seq           bigint GENERATED ALWAYS AS IDENTITY, -- claim order (FIFO across jobs)
    remote        text COLLATE "C" NOT NULL DEFAULT '', -- '' when a URL matched no remote
    path          text COLLATE "C" NOT NULL DEFAULT '', -- cache key: clean path plus "?query"
    url           text NOT NULL DEFAULT '', -- as submitted, for a job of URLs
    state         text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'cached', 'already_cached', 'denied', 'failed')),
    reason        text NOT NULL DEFAULT '',
    bytes_done    bigint NOT NULL DEFAULT 0,
    bytes_total   bigint NOT NULL DEFAULT 0, -- 0: not known yet
    attempts      integer NOT NULL DEFAULT 0,
    started_at    timestamptz NULL,
    finished_at   timestamptz NULL,
    claimed_by    text NULL, -- the instance working on it (kept after it finishes)
    claimed_until timestamptz NULL, -- lease end while running
    PRIMARY KEY (job_id, idx)
);

-- Claiming scans only unfinished items, oldest first.
CREATE INDEX job_items_pending_idx ON job_items (seq) WHERE state IN ('queued', 'running');

-- +goose Down
DROP TABLE job_items;
DROP TABLE jobs;
