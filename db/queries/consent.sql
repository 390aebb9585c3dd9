-- A consent record takes effect at recorded_at: the current consent for a
-- channel is its record with the latest recorded_at (ties: the later row).
-- No record may predate the latest one for its channels: staff records
-- that would are refused before they get here, and records made by the
-- system (a survivor's STOP or START, a carrier block) are moved up to it,
-- so a STOP that raced a staff member's edit still has the last word.

-- name: ConsentRecordCreate :one
INSERT INTO consent_records (survivor_id, action, channels, method, source, recorded_by, recorded_at, note_enc)
VALUES (@survivor_id, @action, @channels, @method, @source, @recorded_by,
        greatest(@recorded_at::timestamptz,
                 (SELECT max(p.recorded_at) FROM consent_records p
                  WHERE p.survivor_id = @survivor_id AND p.channels && @channels::text[])),
        @note_enc)
RETURNING *;

-- name: ConsentRecordList :many
SELECT * FROM consent_records WHERE survivor_id = @survivor_id ORDER BY recorded_at, id;

-- ConsentLatest gives each channel's latest record: a channel is consented
-- when its latest record is a 'give'.
-- name: ConsentLatest :many
SELECT DISTINCT ON (ch) ch::text AS channel, action, source, recorded_at
FROM consent_records, unnest(channels) AS ch
WHERE survivor_id = @survivor_id
ORDER BY ch, recorded_at DESC, id DESC;
