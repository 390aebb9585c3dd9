-- name: CheckinCopy :copyfrom
INSERT INTO checkins (survivor_id, kind, cadence_version, seq, due_at)
VALUES (@survivor_id, @kind, @cadence_version, @seq, @due_at);

-- CheckinDeleteFuture removes the cadence's occurrences not yet handed to
-- the sender, for a new cadence to replace: nothing references them yet.
-- name: CheckinDeleteFuture :execrows
DELETE FROM checkins
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

-- name: CheckinSetState :exec
UPDATE checkins SET
    state = @state,
    reason = sqlc.narg(reason),
    channel = coalesce(sqlc.narg(channel), channel),
    sent_at = coalesce(sqlc.narg(sent_at), sent_at),
    updated_at = @now
WHERE id = @id;

-- CheckinLockForSend locks a check-in and reads, in one round trip,
-- everything the sender decides on: the survivor, their contact windows
-- and the channels they consent to right now.
-- name: CheckinLockForSend :one
SELECT c.id, c.state, c.channel, c.survivor_id, c.kind, c.calls,
       s.status AS survivor_status, s.phone_enc, s.language, s.channels, s.timezone,
       coalesce((SELECT jsonb_agg(jsonb_build_object('days', w.days, 'start', w.start_minute, 'end', w.end_minute) ORDER BY w.position)
                 FROM contact_windows w WHERE w.survivor_id = s.id), '[]')::jsonb AS windows,
       ARRAY(SELECT x.ch FROM (SELECT DISTINCT ON (cr_ch) cr_ch AS ch, cr.action
                               FROM consent_records cr, unnest(cr.channels) AS cr_ch
                               WHERE cr.survivor_id = s.id ORDER BY cr_ch, cr.recorded_at DESC, cr.id DESC) x
             WHERE x.action = 'give')::text[] AS consented
FROM checkins c JOIN survivors s ON s.id = c.survivor_id
WHERE c.id = @id
FOR UPDATE OF c;

-- CheckinStartAttempt records a send attempt before the provider is called
-- and marks the check-in 'sending', in one statement.
-- name: CheckinStartAttempt :one
WITH c AS (
    UPDATE checkins SET state = 'sending', channel = @channel::text, updated_at = @now,
        calls = calls + CASE WHEN @channel::text = 'voice' THEN 1 ELSE 0 END
    WHERE checkins.id = @checkin_id
)
INSERT INTO messages (direction, channel, survivor_id, checkin_id, purpose, peer_hash, peer_enc, body_enc,
                      template, dlt_template_id, language, provider, status, segments, encoding, created_at, updated_at)
VALUES ('out', @channel::text, @survivor_id, @checkin_id, 'checkin', @peer_hash, @peer_enc, @body_enc,
        @template, @dlt_template_id, @language, @provider, 'attempting', @segments, @encoding, @now, @now)
RETURNING id;

-- CheckinMarkSent records the provider's acceptance. A status callback may
-- have got there first (it adopts the SID): its status is kept.
-- name: CheckinMarkSent :exec
WITH m AS (
    UPDATE messages SET provider_sid = coalesce(provider_sid, @provider_sid::text),
        status = CASE WHEN status = 'attempting' THEN @status::text ELSE status END,
        updated_at = @now::timestamptz
    WHERE messages.id = @message_id
)
UPDATE checkins SET state = 'sent', sent_at = @now::timestamptz, updated_at = @now::timestamptz
WHERE checkins.id = @checkin_id;


-- CheckinClaimMissed finds check-ins whose answer is overdue (or whose
-- delivery failed), and follow-ups that could not be sent: each is
-- assessed once (assessed_at), under SKIP LOCKED so two sweepers share.
-- name: CheckinClaimMissed :many
WITH due AS (
    SELECT c.id FROM checkins c JOIN survivors s ON s.id = c.survivor_id
    WHERE (c.state = 'sent' AND c.assessed_at IS NULL
           AND (c.delivery_failed_at IS NOT NULL
                OR c.sent_at + make_interval(0, 0, 0, 0, 0, s.response_window_minutes) <= @now::timestamptz))
       OR (c.kind = 'followup' AND c.state IN ('skipped', 'failed') AND c.assessed_at IS NULL)
    ORDER BY c.id
    LIMIT @lim
    FOR UPDATE OF c SKIP LOCKED
)
UPDATE checkins c SET
    state = CASE WHEN c.state = 'sent' THEN 'missed' ELSE c.state END,
    assessed_at = @now::timestamptz, updated_at = @now::timestamptz
FROM due WHERE c.id = due.id
RETURNING c.*;

-- name: CheckinPreviousPrimary :one
SELECT * FROM checkins
WHERE survivor_id = @survivor_id AND kind IN ('cadence', 'adhoc') AND id <> @id
  AND due_at <= @due_at AND state IN ('sent', 'answered', 'missed', 'skipped', 'failed')
ORDER BY due_at DESC, id DESC
LIMIT 1;

-- name: CheckinFollowupOf :one
SELECT * FROM checkins WHERE parent_id = @parent_id;

-- name: CheckinDeliveryFailed :exec
UPDATE checkins SET delivery_failed_at = coalesce(delivery_failed_at, @now::timestamptz), updated_at = @now::timestamptz
WHERE id = @id AND state = 'sent';

-- name: CheckinGiveUp :exec
UPDATE checkins SET state = 'failed', reason = @reason, updated_at = @now
WHERE id = @id AND state IN ('queued', 'sending');

-- name: CheckinPendingAdhoc :one
SELECT count(*) FROM checkins
WHERE survivor_id = @survivor_id AND kind = 'adhoc' AND channel = @channel::text AND state IN ('queued', 'sending');

-- CheckinCallAgain puts a voice check-in whose call nobody answered back
-- in the queue for another call.
-- name: CheckinCallAgain :execrows
UPDATE checkins SET state = 'queued', updated_at = @now
WHERE id = @id AND state = 'sent';

-- CheckinRecentCallback finds a callback a survivor's missed call already
-- asked for: still to be placed, or placed since @since.
-- name: CheckinRecentCallback :one
SELECT * FROM checkins
WHERE survivor_id = @survivor_id AND kind = 'callback'
  AND (state IN ('scheduled', 'queued', 'sending') OR sent_at >= @since::timestamptz)
ORDER BY created_at DESC
LIMIT 1;
