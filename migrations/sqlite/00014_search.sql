-- +goose Up
-- Search across remotes: a trigram index of paths (FTS5, external content:
-- the paths are not stored twice) kept in step by triggers, and an index
-- of digests. Upserts keep a row's id and path, so only inserts, deletes
-- and a changed path touch the index.
CREATE VIRTUAL TABLE artifacts_path_fts USING fts5(path, content='artifacts', content_rowid='id', tokenize='trigram');
INSERT INTO artifacts_path_fts(artifacts_path_fts) VALUES ('rebuild');

-- +goose StatementBegin
CREATE TRIGGER artifacts_path_fts_insert AFTER INSERT ON artifacts BEGIN
    INSERT INTO artifacts_path_fts(rowid, path) VALUES (new.id, new.path);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER artifacts_path_fts_delete AFTER DELETE ON artifacts BEGIN
    INSERT INTO artifacts_path_fts(artifacts_path_fts, rowid, path) VALUES ('delete', old.id, old.path);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER artifacts_path_fts_update AFTER UPDATE OF path ON artifacts BEGIN
    INSERT INTO artifacts_path_fts(artifacts_path_fts, rowid, path) VALUES ('delete', old.id, old.path);
    INSERT INTO artifacts_path_fts(rowid, path) VALUES (new.id, new.path);
END;
-- +goose StatementEnd

CREATE INDEX artifacts_sha256_idx ON artifacts (sha256);
CREATE INDEX oci_tags_tag_idx ON oci_tags (tag);
CREATE INDEX oci_tags_digest_idx ON oci_tags (digest);

-- +goose Down
DROP INDEX oci_tags_digest_idx;
DROP INDEX oci_tags_tag_idx;
DROP INDEX artifacts_sha256_idx;
DROP TRIGGER artifacts_path_fts_update;
DROP TRIGGER artifacts_path_fts_delete;
DROP TRIGGER artifacts_path_fts_insert;
DROP TABLE artifacts_path_fts;
