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

-- PacingChannels reads what decides the channel each check-in will be sent
-- on (jobs.sendChannel, as the sender decides it): its own channel, the
-- survivor's channels, and those they consent to now (as CheckinLockForSend
-- reads them).
-- name: PacingChannels :many
SELECT c.id, c.channel, s.channels,
       ARRAY(SELECT x.ch FROM (SELECT DISTINCT ON (cr_ch) cr_ch AS ch, cr.action
                               FROM consent_records cr, unnest(cr.channels) AS cr_ch
                               WHERE cr.survivor_id = s.id ORDER BY cr_ch, cr.recorded_at DESC, cr.id DESC) x
             WHERE x.action = 'give')::text[] AS consented
FROM checkins c JOIN survivors s ON s.id = c.survivor_id
WHERE c.id = ANY(@ids::uuid[]);
