-- name: DevOutboxCreate :one
INSERT INTO dev_outbox (sid, channel, to_enc, body_enc) VALUES (@sid, @channel, @to_enc, @body_enc)
RETURNING *;

-- name: DevOutboxList :many
SELECT * FROM dev_outbox WHERE id > @after ORDER BY id DESC LIMIT @lim;

-- name: DevOutboxSince :many
SELECT * FROM dev_outbox WHERE created_at >= @since ORDER BY id;
