-- +goose Up
-- The version of the stored object (S3 ETag, filesystem file identity) recorded
-- at commit: a read proves it streams the object this row describes.
ALTER TABLE artifacts ADD COLUMN blob_version TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE artifacts DROP COLUMN blob_version;
