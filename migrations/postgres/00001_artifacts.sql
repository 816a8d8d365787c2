-- +goose Up
-- Paths sort and compare byte-wise (COLLATE "C") so ordering and keyset
-- pagination do not depend on the server locale and match SQLite.
CREATE TABLE artifacts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    remote        text COLLATE "C" NOT NULL,
    path          text COLLATE "C" NOT NULL,
    storage_key   text NOT NULL DEFAULT '',
    size          bigint NOT NULL DEFAULT 0,
    sha256        text NOT NULL DEFAULT '',
    content_type  text NOT NULL DEFAULT '',
    etag          text NOT NULL DEFAULT '',
    last_modified text NOT NULL DEFAULT '',
    kind          text NOT NULL DEFAULT 'immutable',
    pattern       text NOT NULL DEFAULT '',
    upstream_url  text NOT NULL DEFAULT '',
    cached_at     timestamptz NOT NULL,
    expires_at    timestamptz NULL, -- NULL: never expires
    last_access   timestamptz NOT NULL,
    hits          bigint NOT NULL DEFAULT 0,
    pinned        boolean NOT NULL DEFAULT false,
    CONSTRAINT artifacts_remote_path_key UNIQUE (remote, path)
);

-- Keyset pagination: one index per sort order, id as the tiebreaker.
-- (remote, path) is covered by the unique constraint.
CREATE INDEX artifacts_remote_size_idx ON artifacts (remote, size, id);
CREATE INDEX artifacts_remote_cached_at_idx ON artifacts (remote, cached_at, id);
CREATE INDEX artifacts_remote_last_access_idx ON artifacts (remote, last_access, id);

-- +goose Down
DROP TABLE artifacts;
