-- +goose Up
-- Missed check-ins: a failed delivery counts as missed at once, and the
-- sweeper marks what it has assessed so a miss is acted on once.
ALTER TABLE checkins ADD COLUMN delivery_failed_at timestamptz;
ALTER TABLE checkins ADD COLUMN assessed_at timestamptz;
CREATE INDEX checkins_followup_unassessed ON checkins (id)
    WHERE kind = 'followup' AND state IN ('skipped', 'failed') AND assessed_at IS NULL;
CREATE UNIQUE INDEX checkins_one_followup ON checkins (parent_id) WHERE parent_id IS NOT NULL;

-- Alerts carry their flag's kind for lists, and when their next
-- escalation is due.
ALTER TABLE alerts ADD COLUMN kind text NOT NULL DEFAULT '';

-- +goose Down
DROP INDEX checkins_one_followup;
DROP INDEX checkins_followup_unassessed;
ALTER TABLE checkins DROP COLUMN delivery_failed_at, DROP COLUMN assessed_at;
ALTER TABLE alerts DROP COLUMN kind;
