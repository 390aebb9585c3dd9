-- name: MessageCreate :one
INSERT INTO messages (direction, channel, survivor_id, staff_id, checkin_id, alert_id, purpose,
                      peer_hash, peer_enc, body_enc, template, language, provider, provider_sid,
                      status, segments, encoding, created_at, updated_at)
VALUES (@direction, @channel, @survivor_id, @staff_id, @checkin_id, @alert_id, @purpose,
        @peer_hash, @peer_enc, @body_enc, @template, @language, @provider, @provider_sid,
        @status, @segments, @encoding, @now, @now)
RETURNING *;

-- name: MessageListForCheckin :many
SELECT * FROM messages WHERE checkin_id = @checkin_id::uuid AND direction = 'out' ORDER BY id;

-- name: MessageAccepted :exec
UPDATE messages SET provider_sid = @provider_sid, status = @status, updated_at = @now WHERE id = @id;

-- name: MessageFailed :exec
UPDATE messages SET status = 'failed', error_code = sqlc.narg(error_code), error_message = @error_message, updated_at = @now
WHERE id = @id;

-- name: MessageGet :one
SELECT * FROM messages WHERE id = @id;

-- name: MessageGetBySID :one
SELECT * FROM messages WHERE provider_sid = @provider_sid::text;

-- MessageUpdateStatus moves a message's delivery status forward only: a
-- late "sent" callback never overwrites "delivered". The rank is in Go.
-- name: MessageUpdateStatus :execrows
UPDATE messages SET status = @status, error_code = coalesce(sqlc.narg(error_code), error_code),
    provider_sid = coalesce(provider_sid, sqlc.narg(provider_sid)), updated_at = @now
WHERE id = @id AND status = ANY(@from_statuses::text[]);

-- MessageCallKeys counts the key presses stored for a call.
-- name: MessageCallKeys :one
SELECT count(*) FROM messages WHERE reply_to = @call_id::bigint AND direction = 'in';

-- MessageSetAnsweredBy records who answered a call (machine detection).
-- name: MessageSetAnsweredBy :exec
UPDATE messages SET answered_by = @answered_by, updated_at = @now WHERE id = @id;
