-- PacingLock serialises the hand-out of one channel's send slots until the
-- transaction ends: the planner and anything else taking slots wait for
-- each other instead of counting the same bucket twice.
-- name: PacingLock :exec
SELECT pg_advisory_xact_lock(hashtextextended('saathi.send_pacing.' || @channel::text, 0));

-- name: PacingTaken :many
SELECT starts_at, taken FROM send_pacing
WHERE channel = @channel AND starts_at >= @since AND starts_at < @until;

-- name: PacingSave :exec
INSERT INTO send_pacing (channel, starts_at, taken)
SELECT @channel::text, unnest(@starts_at::timestamptz[]), unnest(@taken::int[])
ON CONFLICT (channel, starts_at) DO UPDATE SET taken = excluded.taken;

-- PacingForget deletes buckets that are over.
-- name: PacingForget :execrows
DELETE FROM send_pacing WHERE starts_at < @before;

-- PacingChannels predicts the channel each check-in will be sent on, as
-- the sender decides it (checkin_send.go): the check-in's own channel, or
-- the first of sms, voice among the survivor's channels with consent now.
-- '' means none: the sender will skip it, so it takes no slot.
-- name: PacingChannels :many
SELECT c.id, coalesce(c.channel, (
    SELECT o.ch FROM unnest(ARRAY['sms', 'voice']::text[]) WITH ORDINALITY AS o(ch, n)
    WHERE o.ch = ANY(s.channels)
      AND (SELECT cr.action FROM consent_records cr
           WHERE cr.survivor_id = s.id AND o.ch = ANY(cr.channels)
           ORDER BY cr.recorded_at DESC, cr.id DESC LIMIT 1) = 'give'
    ORDER BY o.n LIMIT 1), '')::text AS channel
FROM checkins c JOIN survivors s ON s.id = c.survivor_id
WHERE c.id = ANY(@ids::uuid[]);
