-- +goose Up
-- India's DLT rules: each message template is registered and carries an ID.
-- Recorded per message (sent along where the provider takes it).
ALTER TABLE messages ADD COLUMN dlt_template_id text;

-- +goose Down
ALTER TABLE messages DROP COLUMN dlt_template_id;
