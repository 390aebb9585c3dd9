-- name: CheckinCopy :copyfrom
INSERT INTO checkins (survivor_id, kind, cadence_version, seq, due_at)
VALUES (@survivor_id, @kind, @cadence_version, @seq, @due_at);

-- name: CheckinCancelFuture :execrows
UPDATE checkins SET state = 'cancelled', reason = @reason, updated_at = @now
WHERE survivor_id = @survivor_id AND state = 'scheduled' AND kind = 'cadence' AND due_at > @now;

-- name: CheckinListBySurvivor :many
SELECT * FROM checkins WHERE survivor_id = @survivor_id ORDER BY due_at, id;

-- name: CheckinNextForSurvivor :one
SELECT * FROM checkins
WHERE survivor_id = @survivor_id AND state IN ('scheduled', 'queued')
ORDER BY due_at LIMIT 1;

-- name: CheckinCancelAllForSurvivor :execrows
UPDATE checkins SET state = 'cancelled', reason = @reason, updated_at = @now
WHERE survivor_id = @survivor_id AND state IN ('scheduled', 'queued');

-- CheckinClaimDue hands due check-ins to the sender: it marks a batch
-- 'queued' (skipping rows another planner holds) so each is claimed once.
-- name: CheckinClaimDue :many
WITH due AS (
    SELECT d.id FROM checkins d
    WHERE d.state = 'scheduled' AND d.due_at <= @until
    ORDER BY d.due_at
    LIMIT @lim
    FOR UPDATE SKIP LOCKED
)
UPDATE checkins c SET state = 'queued', updated_at = @now
FROM due WHERE c.id = due.id
RETURNING c.id, c.survivor_id, c.due_at;

-- name: CheckinCreate :one
INSERT INTO checkins (survivor_id, kind, channel, due_at, state, requested_by, parent_id)
VALUES (@survivor_id, @kind, @channel, @due_at, @state, @requested_by, @parent_id)
RETURNING *;

-- name: CheckinGet :one
SELECT * FROM checkins WHERE id = @id;

-- name: CheckinGetForUpdate :one
SELECT * FROM checkins WHERE id = @id FOR UPDATE;

-- name: CheckinSetState :exec
UPDATE checkins SET
    state = @state,
    reason = sqlc.narg(reason),
    channel = coalesce(sqlc.narg(channel), channel),
    sent_at = coalesce(sqlc.narg(sent_at), sent_at),
    updated_at = @now
WHERE id = @id;
