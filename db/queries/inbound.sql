-- MessageReceive stores an inbound text or key press once: a second
-- delivery of the same MessageSid (or CallSid and step) inserts nothing
-- and returns no row (Twilio retries, two web replicas). A key press names
-- its call in reply_to.
-- name: MessageReceive :one
INSERT INTO messages (direction, channel, survivor_id, staff_id, checkin_id, reply_to, purpose, peer_hash, peer_enc, body_enc,
                      language, provider, provider_sid, status, segments, encoding, created_at, updated_at)
VALUES ('in', @channel, @survivor_id, @staff_id, @checkin_id, @reply_to, @purpose, @peer_hash, @peer_enc, @body_enc,
        @language, @provider, @provider_sid, 'received', @segments, @encoding, @now, @now)
ON CONFLICT (provider_sid) DO NOTHING
RETURNING id;

-- MessageReceiveMany is MessageReceive for several replies, pipelined: one
-- round trip for all (ReceiveReplies). A SID seen before, or earlier in the
-- same batch, returns no row.
-- name: MessageReceiveMany :batchone
INSERT INTO messages (direction, channel, survivor_id, staff_id, checkin_id, reply_to, purpose, peer_hash, peer_enc, body_enc,
                      language, provider, provider_sid, status, segments, encoding, created_at, updated_at)
VALUES ('in', @channel, @survivor_id, @staff_id, @checkin_id, @reply_to, @purpose, @peer_hash, @peer_enc, @body_enc,
        @language, @provider, @provider_sid, 'received', @segments, @encoding, @now, @now)
ON CONFLICT (provider_sid) DO NOTHING
RETURNING id;

-- CheckinAnswer marks a check-in answered, and its parent when it is a
-- follow-up (the survivor did reply).
-- name: CheckinAnswer :exec
UPDATE checkins SET state = 'answered', answered_at = @now::timestamptz, updated_at = @now::timestamptz
WHERE state IN ('sent', 'missed')
  AND (checkins.id = @id OR checkins.id = (SELECT parent_id FROM checkins p WHERE p.id = @id));

-- name: RiskFlagCreate :one
INSERT INTO risk_flags (survivor_id, kind, severity, response_id, checkin_id, created_at)
VALUES (@survivor_id, @kind, @severity, @response_id, @checkin_id, @now)
ON CONFLICT DO NOTHING
RETURNING *;

-- ReplyForAssess is what assessing a reply needs, in one round trip: the
-- message (keys pressed name their call's check-in), its survivor, and,
-- for a text, the check-in awaiting it (none or one): the latest one sent
-- (or already missed: a late answer still counts) in the answer window
-- before it.
-- name: ReplyForAssess :one
SELECT m.*, s.duress_enc, s.duress_code_enc, s.language AS survivor_language, s.status AS survivor_status,
       ARRAY(SELECT c.id FROM checkins c
             WHERE m.checkin_id IS NULL AND c.survivor_id = m.survivor_id AND c.state IN ('sent', 'missed')
               AND c.sent_at >= m.created_at - make_interval(secs => @answer_window_seconds::float8)
             ORDER BY c.sent_at DESC
             LIMIT 1)::uuid[] AS awaiting_checkin
FROM messages m JOIN survivors s ON s.id = m.survivor_id
WHERE m.id = @id;

-- ResponseRecord records what a reply meant, once, and with it the answer
-- the survivor got in TwiML (when answer_enc is set) on their timeline:
-- both or neither. A second assessment of the same reply records nothing
-- and returns no row.
-- name: ResponseRecord :one
WITH r AS (
    INSERT INTO responses (message_id, survivor_id, checkin_id, intent, evidence_enc, created_at)
    VALUES (@message_id, @survivor_id, @checkin_id, @intent, @evidence_enc, @now)
    ON CONFLICT (message_id) DO NOTHING
    RETURNING id
), answer AS (
    INSERT INTO messages (direction, channel, survivor_id, reply_to, purpose, peer_hash, peer_enc, body_enc,
                          template, language, provider, status, segments, encoding, created_at, updated_at)
    SELECT 'out', @channel, @survivor_id, @reply_to, 'reply', @peer_hash, @peer_enc, sqlc.narg('answer_enc')::bytea,
           @template, @language, @provider, 'twiml', @segments, @encoding, @answered_at, @answered_at
    FROM r WHERE sqlc.narg('answer_enc')::bytea IS NOT NULL
)
SELECT id FROM r;

-- name: MessageGetForAssess :one
SELECT m.*, s.duress_enc, s.duress_code_enc, s.language AS survivor_language, s.status AS survivor_status, s.timezone AS survivor_timezone
FROM messages m JOIN survivors s ON s.id = m.survivor_id
WHERE m.id = @id;

-- SurvivorForReply is what the webhook needs to answer a survivor, in one
-- round trip: who they are and whether they consent to SMS right now.
-- name: SurvivorForReply :one
SELECT s.id, s.language, s.channels, s.duress_enc, s.duress_code_enc,
       coalesce((SELECT cr.action = 'give' FROM consent_records cr
                 WHERE cr.survivor_id = s.id AND 'sms' = ANY(cr.channels)
                 ORDER BY cr.recorded_at DESC, cr.id DESC LIMIT 1), false)::bool AS sms_consent
FROM survivors s
WHERE s.phone_hash = @phone_hash AND s.status = 'active';

-- SurvivorForReplyMany is SurvivorForReply for several senders, pipelined
-- (the texts of one group commit).
-- name: SurvivorForReplyMany :batchone
SELECT s.id, s.language, s.channels, s.duress_enc, s.duress_code_enc,
       coalesce((SELECT cr.action = 'give' FROM consent_records cr
                 WHERE cr.survivor_id = s.id AND 'sms' = ANY(cr.channels)
                 ORDER BY cr.recorded_at DESC, cr.id DESC LIMIT 1), false)::bool AS sms_consent
FROM survivors s
WHERE s.phone_hash = @phone_hash AND s.status = 'active';

-- MessageListUnmatched leaves out texts blanked by retention (past
-- keeping, and nothing left to show).
-- name: MessageListUnmatched :many
SELECT * FROM messages
WHERE direction = 'in' AND survivor_id IS NULL AND staff_id IS NULL
  AND peer_enc IS NOT NULL AND body_enc IS NOT NULL
ORDER BY id DESC
LIMIT @lim;
