-- Key rotation (saathi keys rotate): every sealed column, read in batches
-- of rows that hold a value under a key other than @key_id, in ID order
-- from @after, locked (SKIP LOCKED: a row another transaction is writing
-- is left for the next pass, and rotation never waits on the service).
-- Each *Reseal writes the new values only if the row still holds the old
-- ones, so a value changed meanwhile is never overwritten with stale data.
-- sealed_key_id is in migration 00008.

-- name: StaffSealedBatch :many
SELECT id, name_enc, phone_enc, username_enc FROM staff
WHERE id > @after::uuid
  AND (sealed_key_id(name_enc) <> @key_id::bigint OR sealed_key_id(phone_enc) <> @key_id::bigint
       OR sealed_key_id(username_enc) <> @key_id::bigint)
ORDER BY id
LIMIT @lim
FOR UPDATE SKIP LOCKED;

-- name: StaffReseal :execrows
UPDATE staff SET name_enc = @name_enc, phone_enc = @phone_enc, username_enc = @username_enc
WHERE id = @id
  AND name_enc = @old_name_enc::bytea
  AND phone_enc IS NOT DISTINCT FROM @old_phone_enc::bytea
  AND username_enc IS NOT DISTINCT FROM @old_username_enc::bytea;

-- name: SurvivorSealedBatch :many
SELECT id, reference_enc, phone_enc, duress_enc, duress_code_enc FROM survivors
WHERE id > @after::uuid
  AND (sealed_key_id(reference_enc) <> @key_id::bigint OR sealed_key_id(phone_enc) <> @key_id::bigint
       OR sealed_key_id(duress_enc) <> @key_id::bigint OR sealed_key_id(duress_code_enc) <> @key_id::bigint)
ORDER BY id
LIMIT @lim
FOR UPDATE SKIP LOCKED;

-- name: SurvivorReseal :execrows
UPDATE survivors SET reference_enc = @reference_enc, phone_enc = @phone_enc, duress_enc = @duress_enc, duress_code_enc = @duress_code_enc
WHERE id = @id
  AND reference_enc IS NOT DISTINCT FROM @old_reference_enc::bytea
  AND phone_enc IS NOT DISTINCT FROM @old_phone_enc::bytea
  AND duress_enc IS NOT DISTINCT FROM @old_duress_enc::bytea
  AND duress_code_enc IS NOT DISTINCT FROM @old_duress_code_enc::bytea;

-- name: MessageSealedBatch :many
SELECT id, peer_enc, body_enc FROM messages
WHERE id > @after::bigint
  AND (sealed_key_id(peer_enc) <> @key_id::bigint OR sealed_key_id(body_enc) <> @key_id::bigint)
ORDER BY id
LIMIT @lim
FOR UPDATE SKIP LOCKED;

-- name: MessageReseal :execrows
UPDATE messages SET peer_enc = @peer_enc, body_enc = @body_enc
WHERE id = @id
  AND peer_enc IS NOT DISTINCT FROM @old_peer_enc::bytea
  AND body_enc IS NOT DISTINCT FROM @old_body_enc::bytea;

-- name: ResponseSealedBatch :many
SELECT id, evidence_enc FROM responses
WHERE id > @after::bigint AND sealed_key_id(evidence_enc) <> @key_id::bigint
ORDER BY id
LIMIT @lim
FOR UPDATE SKIP LOCKED;

-- name: ResponseReseal :execrows
UPDATE responses SET evidence_enc = @evidence_enc
WHERE id = @id AND evidence_enc IS NOT DISTINCT FROM @old_evidence_enc::bytea;

-- name: AlertSealedBatch :many
SELECT id, resolution_enc FROM alerts
WHERE id > @after::uuid AND sealed_key_id(resolution_enc) <> @key_id::bigint
ORDER BY id
LIMIT @lim
FOR UPDATE SKIP LOCKED;

-- name: AlertReseal :execrows
UPDATE alerts SET resolution_enc = @resolution_enc
WHERE id = @id AND resolution_enc IS NOT DISTINCT FROM @old_resolution_enc::bytea;

-- name: ConsentRecordSealedBatch :many
SELECT id, note_enc FROM consent_records
WHERE id > @after::bigint AND sealed_key_id(note_enc) <> @key_id::bigint
ORDER BY id
LIMIT @lim
FOR UPDATE SKIP LOCKED;

-- name: ConsentRecordReseal :execrows
UPDATE consent_records SET note_enc = @note_enc
WHERE id = @id AND note_enc IS NOT DISTINCT FROM @old_note_enc::bytea;

-- name: DevOutboxSealedBatch :many
SELECT id, to_enc, body_enc FROM dev_outbox
WHERE id > @after::bigint
  AND (sealed_key_id(to_enc) <> @key_id::bigint OR sealed_key_id(body_enc) <> @key_id::bigint)
ORDER BY id
LIMIT @lim
FOR UPDATE SKIP LOCKED;

-- name: DevOutboxReseal :execrows
UPDATE dev_outbox SET to_enc = @to_enc, body_enc = @body_enc
WHERE id = @id
  AND to_enc = @old_to_enc::bytea
  AND body_enc IS NOT DISTINCT FROM @old_body_enc::bytea;

-- SealedValueCounts counts the values in every sealed column by the key
-- that sealed them (-1: not a sealed value).
-- name: SealedValueCounts :many
SELECT 'staff.name_enc'::text AS col, sealed_key_id(name_enc) AS key_id, count(*) AS n FROM staff WHERE name_enc IS NOT NULL GROUP BY 1, 2
UNION ALL SELECT 'staff.phone_enc', sealed_key_id(phone_enc), count(*) FROM staff WHERE phone_enc IS NOT NULL GROUP BY 1, 2
UNION ALL SELECT 'staff.username_enc', sealed_key_id(username_enc), count(*) FROM staff WHERE username_enc IS NOT NULL GROUP BY 1, 2
UNION ALL SELECT 'survivors.reference_enc', sealed_key_id(reference_enc), count(*) FROM survivors WHERE reference_enc IS NOT NULL GROUP BY 1, 2
UNION ALL SELECT 'survivors.phone_enc', sealed_key_id(phone_enc), count(*) FROM survivors WHERE phone_enc IS NOT NULL GROUP BY 1, 2
UNION ALL SELECT 'survivors.duress_enc', sealed_key_id(duress_enc), count(*) FROM survivors WHERE duress_enc IS NOT NULL GROUP BY 1, 2
UNION ALL SELECT 'survivors.duress_code_enc', sealed_key_id(duress_code_enc), count(*) FROM survivors WHERE duress_code_enc IS NOT NULL GROUP BY 1, 2
UNION ALL SELECT 'messages.peer_enc', sealed_key_id(peer_enc), count(*) FROM messages WHERE peer_enc IS NOT NULL GROUP BY 1, 2
UNION ALL SELECT 'messages.body_enc', sealed_key_id(body_enc), count(*) FROM messages WHERE body_enc IS NOT NULL GROUP BY 1, 2
UNION ALL SELECT 'responses.evidence_enc', sealed_key_id(evidence_enc), count(*) FROM responses WHERE evidence_enc IS NOT NULL GROUP BY 1, 2
UNION ALL SELECT 'alerts.resolution_enc', sealed_key_id(resolution_enc), count(*) FROM alerts WHERE resolution_enc IS NOT NULL GROUP BY 1, 2
UNION ALL SELECT 'consent_records.note_enc', sealed_key_id(note_enc), count(*) FROM consent_records WHERE note_enc IS NOT NULL GROUP BY 1, 2
UNION ALL SELECT 'dev_outbox.to_enc', sealed_key_id(to_enc), count(*) FROM dev_outbox GROUP BY 1, 2
UNION ALL SELECT 'dev_outbox.body_enc', sealed_key_id(body_enc), count(*) FROM dev_outbox WHERE body_enc IS NOT NULL GROUP BY 1, 2
ORDER BY 1, 2;
