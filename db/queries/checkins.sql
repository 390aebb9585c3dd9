-- name: CheckinCopy :copyfrom
INSERT INTO checkins (survivor_id, kind, cadence_version, seq, due_at)
VALUES (@survivor_id, @kind, @cadence_version, @seq, @due_at);

-- name: CheckinCancelFuture :execrows
UPDATE checkins SET state = 'cancelled', reason = @reason, updated_at = @now
WHERE survivor_id = @survivor_id AND state = 'scheduled' AND kind = 'cadence';

-- name: CheckinListBySurvivor :many
SELECT * FROM checkins WHERE survivor_id = @survivor_id ORDER BY due_at, id;
