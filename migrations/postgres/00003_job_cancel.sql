-- +goose Up
-- Jobs can be canceled: their queued items end in the state 'canceled'.
ALTER TABLE job_items DROP CONSTRAINT job_items_state_check;
ALTER TABLE job_items ADD CONSTRAINT job_items_state_check
    CHECK (state IN ('queued', 'running', 'cached', 'already_cached', 'denied', 'failed', 'canceled'));

-- +goose Down
UPDATE job_items SET state = 'failed', reason = 'canceled' WHERE state = 'canceled';
ALTER TABLE job_items DROP CONSTRAINT job_items_state_check;
ALTER TABLE job_items ADD CONSTRAINT job_items_state_check
    CHECK (state IN ('queued', 'running', 'cached', 'already_cached', 'denied', 'failed'));
