-- +goose Up
-- When a pushed manifest was last pulled (by tag or digest), for the
-- dashboard's images view: unix nanoseconds, 0 for never. Written in
-- batches, at most every few seconds per replica.
ALTER TABLE oci_manifests ADD COLUMN last_pulled INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE oci_manifests DROP COLUMN last_pulled;
