-- +goose Up
-- Local docker repositories (type: local, package: docker): content pushed
-- through /v2. Blobs are content-addressed and stored once whatever the
-- number of repositories holding them (oci_blobs); a repository holds a blob
-- through a link (oci_repo_blobs). Manifests keep their exact bytes. Times are
-- BIGINT unix nanoseconds (UTC) as in the SQLite schema: one implementation of
-- the store serves both dialects.
CREATE TABLE oci_blobs (
    digest      text COLLATE "C" PRIMARY KEY, -- "sha256:<hex>" or "sha512:<hex>"
    size        bigint NOT NULL,
    storage_key text NOT NULL,               -- blob store key of the bytes
    created_at  bigint NOT NULL,
    last_used   bigint NOT NULL              -- last upload, link or reference: the GC grace period starts here
);

CREATE TABLE oci_repo_blobs (
    remote     text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    digest     text COLLATE "C" NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (remote, name, digest)
);
CREATE INDEX oci_repo_blobs_digest_idx ON oci_repo_blobs (digest);

CREATE TABLE oci_manifests (
    remote        text COLLATE "C" NOT NULL,
    name          text COLLATE "C" NOT NULL,
    digest        text COLLATE "C" NOT NULL,
    media_type    text NOT NULL,
    body          bytea NOT NULL,             -- the exact bytes pushed
    subject       text COLLATE "C" NOT NULL DEFAULT '', -- digest of the subject, '' when none
    artifact_type text NOT NULL DEFAULT '',
    created_at    bigint NOT NULL,
    PRIMARY KEY (remote, name, digest)
);
CREATE INDEX oci_manifests_subject_idx ON oci_manifests (remote, name, subject);

-- The blobs (config, layers) a manifest references: what GC keeps.
CREATE TABLE oci_manifest_blobs (
    remote   text COLLATE "C" NOT NULL,
    name     text COLLATE "C" NOT NULL,
    manifest text COLLATE "C" NOT NULL,
    digest   text COLLATE "C" NOT NULL,
    PRIMARY KEY (remote, name, manifest, digest),
    FOREIGN KEY (remote, name, manifest) REFERENCES oci_manifests (remote, name, digest) ON DELETE CASCADE
);
CREATE INDEX oci_manifest_blobs_digest_idx ON oci_manifest_blobs (digest);

CREATE TABLE oci_tags (
    remote     text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    tag        text COLLATE "C" NOT NULL,
    digest     text COLLATE "C" NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (remote, name, tag),
    FOREIGN KEY (remote, name, digest) REFERENCES oci_manifests (remote, name, digest) ON DELETE CASCADE
);

-- Blob upload sessions, shared by every replica: the bytes received so far
-- are parts in the blob store, one per PATCH, concatenated at commit.
CREATE TABLE oci_uploads (
    id         text COLLATE "C" PRIMARY KEY,
    remote     text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    size       bigint NOT NULL DEFAULT 0,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);
CREATE INDEX oci_uploads_updated_idx ON oci_uploads (updated_at);

CREATE TABLE oci_upload_parts (
    upload_id   text COLLATE "C" NOT NULL REFERENCES oci_uploads (id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    storage_key text NOT NULL,
    size        bigint NOT NULL,
    sha256      text NOT NULL DEFAULT '', -- hex digest of the part's bytes: a one-part upload becomes its blob without a copy
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
