-- name: ConsentRecordCreate :one
INSERT INTO consent_records (survivor_id, action, channels, method, source, recorded_by, recorded_at)
VALUES (@survivor_id, @action, @channels, @method, @source, @recorded_by, @recorded_at)
RETURNING *;

-- name: ConsentRecordList :many
SELECT * FROM consent_records WHERE survivor_id = @survivor_id ORDER BY id;

-- ConsentCurrent gives the latest action per channel: a channel is consented
-- when its latest record is a 'give'.
-- name: ConsentCurrent :many
SELECT DISTINCT ON (ch) ch::text AS channel, action
FROM consent_records, unnest(channels) AS ch
WHERE survivor_id = @survivor_id
ORDER BY ch, id DESC;
