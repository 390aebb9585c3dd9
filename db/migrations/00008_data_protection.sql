-- +goose Up
-- Key rotation: the ID of the key that sealed a value is in its header
-- (a format byte 1, then the key ID, 4 bytes big-endian; see db/crypt).
-- sealed_key_id reads it so rotation and `saathi keys status` can find
-- and count the values under each key without opening them. NULL stays
-- NULL; a value not in the sealed format is -1.
-- +goose StatementBegin
CREATE FUNCTION sealed_key_id(v bytea) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    -- Nested CASEs, not AND: get_byte past the end is an error, and
    -- PostgreSQL does not promise to evaluate AND's operands in order.
    SELECT CASE
        WHEN length(v) < 5 THEN -1
        WHEN get_byte(v, 0) <> 1 THEN -1
        ELSE (get_byte(v, 1)::bigint << 24) | (get_byte(v, 2)::bigint << 16)
           | (get_byte(v, 3)::bigint << 8) | get_byte(v, 4)::bigint
    END
$$;
-- +goose StatementEnd

-- Retention: personal contents older than the retention age are blanked
-- in batches. These partial indexes hold only the rows still to blank, so
-- each batch finds its rows without scanning the table, and a row leaves
-- the index once blanked.
CREATE INDEX messages_retention ON messages (created_at)
    WHERE body_enc IS NOT NULL OR peer_enc IS NOT NULL OR peer_hash IS NOT NULL;
CREATE INDEX responses_retention ON responses (created_at) WHERE evidence_enc IS NOT NULL;
CREATE INDEX alerts_retention ON alerts (resolved_at) WHERE resolution_enc IS NOT NULL;
CREATE INDEX dev_outbox_created ON dev_outbox (created_at);
-- Alert texts are found by their alert: when an alert is texted (has this
-- member had it already?) and when its survivor's residue is blanked.
CREATE INDEX messages_alert ON messages (alert_id) WHERE alert_id IS NOT NULL;

-- +goose Down
DROP INDEX messages_alert;
DROP INDEX dev_outbox_created;
DROP INDEX alerts_retention;
DROP INDEX responses_retention;
DROP INDEX messages_retention;
DROP FUNCTION sealed_key_id(bytea);
