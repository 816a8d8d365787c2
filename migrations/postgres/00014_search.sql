-- +goose Up
-- Search across remotes. Paths: a trigram index (pg_trgm) serves ILIKE
-- '%term%'; pg_trgm is a trusted extension, but where it cannot be installed
-- the search still works, by walking each remote's paths (bounded by its
-- limit). Digests and tags: plain b-tree indexes (digests compare bytewise).
-- +goose StatementBegin
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX artifacts_path_trgm_idx ON artifacts USING gin (path gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): the path search walks the index of paths', SQLERRM;
END
$$;
-- +goose StatementEnd

CREATE INDEX artifacts_sha256_idx ON artifacts (sha256 COLLATE "C");
CREATE INDEX oci_tags_tag_idx ON oci_tags (tag);
CREATE INDEX oci_tags_digest_idx ON oci_tags (digest);

-- +goose Down
DROP INDEX oci_tags_digest_idx;
DROP INDEX oci_tags_tag_idx;
DROP INDEX artifacts_sha256_idx;
DROP INDEX IF EXISTS artifacts_path_trgm_idx;
