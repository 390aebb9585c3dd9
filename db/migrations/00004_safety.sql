-- +goose Up
-- Case codes: a short code the server assigns to every survivor (SA-4821).
-- It is the only case identifier that goes out in texts to staff phones;
-- the NGO's own reference stays encrypted and is shown only to staff in
-- the API and dashboard. Existing survivors get one here.
ALTER TABLE survivors ADD COLUMN case_code text;
-- The index first: the loop below looks every code up in it.
CREATE UNIQUE INDEX survivors_case_code ON survivors (case_code);
-- +goose StatementBegin
DO $$
DECLARE
    r        record;
    code     text;
    attempts int;
    digits   int;
BEGIN
    FOR r IN SELECT id FROM survivors WHERE case_code IS NULL ORDER BY enrolled_at, id LOOP
        attempts := 0;
        LOOP
            -- Four digits while they last, then five, and so on (as in Go).
            digits := 4 + attempts / 3;
            code := 'SA-' || (10 ^ (digits - 1) + floor(random() * 9 * 10 ^ (digits - 1)))::bigint;
            EXIT WHEN NOT EXISTS (SELECT 1 FROM survivors s WHERE s.case_code = code);
            attempts := attempts + 1;
        END LOOP;
        UPDATE survivors SET case_code = code WHERE id = r.id;
    END LOOP;
END
$$;
-- +goose StatementEnd
ALTER TABLE survivors ALTER COLUMN case_code SET NOT NULL;

-- Consent takes effect in the order of recorded_at (a record may not
-- predate the latest one for its channels); a staff member who gives
-- consent back after the survivor's own STOP says why (encrypted).
ALTER TABLE consent_records ADD COLUMN note_enc bytea;
CREATE INDEX consent_records_effective ON consent_records (survivor_id, recorded_at DESC, id DESC);

-- A deactivated staff member's number may be given to someone else.
ALTER TABLE staff DROP CONSTRAINT staff_phone_hash_key;
CREATE UNIQUE INDEX staff_phone_hash_active ON staff (phone_hash) WHERE deactivated_at IS NULL;

-- Alerts are scoped through the survivor's current caseworker.
CREATE INDEX alerts_survivor ON alerts (survivor_id, created_at);

-- An answer to a reply sent as its own text (after a spooled webhook) is
-- linked to the reply it answers: it is sent once, whatever the retries.
ALTER TABLE messages ADD COLUMN reply_to bigint REFERENCES messages (id);
CREATE INDEX messages_reply_to ON messages (reply_to) WHERE reply_to IS NOT NULL;

-- +goose Down
DROP INDEX messages_reply_to;
ALTER TABLE messages DROP COLUMN reply_to;
DROP INDEX alerts_survivor;
DROP INDEX staff_phone_hash_active;
ALTER TABLE staff ADD CONSTRAINT staff_phone_hash_key UNIQUE (phone_hash);
DROP INDEX consent_records_effective;
ALTER TABLE consent_records DROP COLUMN note_enc;
DROP INDEX survivors_case_code;
ALTER TABLE survivors DROP COLUMN case_code;
