-- +goose Up
-- Times are INTEGER unix nanoseconds (UTC); the zero Go time is stored as
-- -9223372036854775808 so that it sorts first. Paths compare byte-wise
-- (BINARY collation), like PostgreSQL's COLLATE "C".
CREATE TABLE artifacts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    remote        TEXT NOT NULL,
    path          TEXT NOT NULL,
    storage_key   TEXT NOT NULL DEFAULT '',
    size          INTEGER NOT NULL DEFAULT 0,
    sha256        TEXT NOT NULL DEFAULT '',
    content_type  TEXT NOT NULL DEFAULT '',
    etag          TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    kind          TEXT NOT NULL DEFAULT 'immutable',
    pattern       TEXT NOT NULL DEFAULT '',
    upstream_url  TEXT NOT NULL DEFAULT '',
    cached_at     INTEGER NOT NULL,
    expires_at    INTEGER NULL, -- NULL: never expires
    last_access   INTEGER NOT NULL,
    hits          INTEGER NOT NULL DEFAULT 0,
    pinned        INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    UNIQUE (remote, path)
);

-- Keyset pagination: one index per sort order, id as the tiebreaker.
-- (remote, path) is covered by the UNIQUE constraint.
CREATE INDEX artifacts_remote_size_idx ON artifacts (remote, size, id);
CREATE INDEX artifacts_remote_cached_at_idx ON artifacts (remote, cached_at, id);
CREATE INDEX artifacts_remote_last_access_idx ON artifacts (remote, last_access, id);

-- +goose Down
DROP TABLE artifacts;
