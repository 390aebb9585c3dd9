-- Survivors are always read through a viewer's scope: an admin sees every
-- active survivor, a supervisor their team's, a caseworker their own.

-- SurvivorCreate inserts nothing (no row) when the case code is taken:
-- the caller draws another.
-- name: SurvivorCreate :one
INSERT INTO survivors (case_code, reference_enc, phone_enc, phone_hash, duress_enc, duress_code_enc, language, channels, timezone, caseworker_id,
                       response_window_minutes, enrolled_at, updated_at)
VALUES (@case_code, @reference_enc, @phone_enc, @phone_hash, @duress_enc, @duress_code_enc, @language, @channels, @timezone, @caseworker_id,
        coalesce(sqlc.narg(response_window_minutes)::int, 1440), @now, @now)
ON CONFLICT (case_code) DO NOTHING
RETURNING *;

-- name: SurvivorGetScoped :one
SELECT s.* FROM survivors s
WHERE s.id = @id AND s.status = 'active'
  AND (@viewer_role::text = 'admin'
       OR s.caseworker_id = @viewer_id::uuid
       OR (@viewer_role::text = 'supervisor'
           AND s.caseworker_id IN (SELECT t.id FROM staff t WHERE t.supervisor_id = @viewer_id::uuid)));

-- name: SurvivorListScoped :many
SELECT s.* FROM survivors s
WHERE s.status = 'active'
  AND (@viewer_role::text = 'admin'
       OR s.caseworker_id = @viewer_id::uuid
       OR (@viewer_role::text = 'supervisor'
           AND s.caseworker_id IN (SELECT t.id FROM staff t WHERE t.supervisor_id = @viewer_id::uuid)))
  AND (sqlc.narg(after)::uuid IS NULL OR s.id > sqlc.narg(after)::uuid)
ORDER BY s.id
LIMIT @lim;

-- name: SurvivorGet :one
SELECT * FROM survivors WHERE id = @id;

-- name: SurvivorGetForUpdate :one
SELECT * FROM survivors WHERE id = @id FOR UPDATE;

-- name: SurvivorUpdate :one
UPDATE survivors SET
    reference_enc = @reference_enc,
    phone_enc = @phone_enc,
    phone_hash = @phone_hash,
    duress_enc = @duress_enc,
    duress_code_enc = @duress_code_enc,
    language = @language,
    channels = @channels,
    timezone = @timezone,
    caseworker_id = @caseworker_id,
    updated_at = @now
WHERE id = @id AND status = 'active'
RETURNING *;

-- name: SurvivorErase :exec
UPDATE survivors SET
    reference_enc = NULL, phone_enc = NULL, phone_hash = NULL, duress_enc = NULL, duress_code_enc = NULL,
    status = 'erased', erased_at = @now::timestamptz, updated_at = @now::timestamptz
WHERE id = @id AND status = 'active';

-- name: SurvivorEraseMessages :exec
UPDATE messages SET peer_enc = NULL, peer_hash = NULL, body_enc = NULL, updated_at = @now
WHERE survivor_id = @survivor_id::uuid;

-- name: SurvivorEraseResponses :exec
UPDATE responses SET evidence_enc = NULL WHERE survivor_id = @survivor_id;

-- name: SurvivorEraseAlertNotes :exec
UPDATE alerts SET resolution_enc = NULL WHERE survivor_id = @survivor_id;

-- Alert texts to staff quote the case reference: their bodies go too.
-- name: SurvivorEraseAlertMessages :exec
UPDATE messages SET body_enc = NULL, updated_at = @now
WHERE alert_id IN (SELECT a.id FROM alerts a WHERE a.survivor_id = @survivor_id::uuid);

-- name: SurvivorEraseConsentNotes :exec
UPDATE consent_records SET note_enc = NULL WHERE survivor_id = @survivor_id;
