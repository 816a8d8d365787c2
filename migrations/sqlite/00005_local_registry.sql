-- +goose Up
-- Local docker repositories (type: local, package: docker): content pushed
-- through /v2. Blobs are content-addressed and stored once whatever the
-- number of repositories holding them (oci_blobs); a repository holds a blob
-- through a link (oci_repo_blobs). Manifests keep their exact bytes. Times are
-- BIGINT unix nanoseconds (UTC) as in the PostgreSQL schema: one implementation of
-- the store serves both dialects.
CREATE TABLE oci_blobs (
    digest      TEXT PRIMARY KEY, -- "sha256:<hex>" or "sha512:<hex>"
    size        INTEGER NOT NULL,
    storage_key TEXT NOT NULL,               -- blob store key of the bytes
    created_at  INTEGER NOT NULL,
    last_used   INTEGER NOT NULL              -- last upload, link or reference: the GC grace period starts here
);

CREATE TABLE oci_repo_blobs (
    remote     TEXT NOT NULL,
    name       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (remote, name, digest)
);
CREATE INDEX oci_repo_blobs_digest_idx ON oci_repo_blobs (digest);

CREATE TABLE oci_manifests (
    remote        TEXT NOT NULL,
    name          TEXT NOT NULL,
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    body          BLOB NOT NULL,             -- the exact bytes pushed
    subject       TEXT NOT NULL DEFAULT '', -- digest of the subject, '' when none
    artifact_type TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (remote, name, digest)
);
CREATE INDEX oci_manifests_subject_idx ON oci_manifests (remote, name, subject);

-- The blobs (config, layers) a manifest references: what GC keeps.
CREATE TABLE oci_manifest_blobs (
    remote   TEXT NOT NULL,
    name     TEXT NOT NULL,
    manifest TEXT NOT NULL,
    digest   TEXT NOT NULL,
    PRIMARY KEY (remote, name, manifest, digest),
    FOREIGN KEY (remote, name, manifest) REFERENCES oci_manifests (remote, name, digest) ON DELETE CASCADE
);
CREATE INDEX oci_manifest_blobs_digest_idx ON oci_manifest_blobs (digest);

CREATE TABLE oci_tags (
    remote     TEXT NOT NULL,
    name       TEXT NOT NULL,
    tag        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (remote, name, tag),
    FOREIGN KEY (remote, name, digest) REFERENCES oci_manifests (remote, name, digest) ON DELETE CASCADE
);

-- Blob upload sessions, shared by every replica: the bytes received so far
-- are parts in the blob store, one per PATCH, concatenated at commit.
CREATE TABLE oci_uploads (
    id         TEXT PRIMARY KEY,
    remote     TEXT NOT NULL,
    name       TEXT NOT NULL,
    size       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX oci_uploads_updated_idx ON oci_uploads (updated_at);

CREATE TABLE oci_upload_parts (
    upload_id   TEXT NOT NULL REFERENCES oci_uploads (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    storage_key TEXT NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT NOT NULL DEFAULT '', -- hex digest of the part's bytes: a one-part upload becomes its blob without a copy
    PRIMARY KEY (upload_id, seq)
);

-- +goose Down
DROP TABLE oci_upload_parts;
DROP TABLE oci_uploads;
DROP TABLE oci_tags;
DROP TABLE oci_manifest_blobs;
DROP TABLE oci_manifests;
DROP TABLE oci_repo_blobs;
DROP TABLE oci_blobs;
