-- +goose Up
-- Voice check-ins. A survivor may have a numeric duress code, typed on
-- the keypad and ended with #, encrypted like the duress word.
ALTER TABLE survivors ADD COLUMN duress_code_enc bytea;

-- A callback is the check-in call a survivor asks for with a missed call.
ALTER TABLE checkins DROP CONSTRAINT checkins_kind_check;
ALTER TABLE checkins ADD CONSTRAINT checkins_kind_check CHECK (kind IN ('cadence', 'adhoc', 'followup', 'callback'));
-- A voice check-in is called again when nobody answered (busy, no answer,
-- a machine, no key pressed): calls counts the calls placed.
ALTER TABLE checkins ADD COLUMN calls int NOT NULL DEFAULT 0;
CREATE INDEX checkins_pending_callback ON checkins (survivor_id) WHERE kind = 'callback';

-- +goose Down
DROP INDEX checkins_pending_callback;
ALTER TABLE checkins DROP COLUMN calls;
ALTER TABLE checkins DROP CONSTRAINT checkins_kind_check;
ALTER TABLE checkins ADD CONSTRAINT checkins_kind_check CHECK (kind IN ('cadence', 'adhoc', 'followup'));
ALTER TABLE survivors DROP COLUMN duress_code_enc;
