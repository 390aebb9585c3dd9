-- Retention (jobs/retention.go): personal contents older than the
-- retention age, and whatever an erased survivor left behind, are blanked
-- in batches of @lim rows. Each statement commits on its own, so a run
-- that is stopped half-way keeps what it did and the next run goes on.
-- Rows are kept, blank: the programme report counts them. Rows another
-- transaction holds are skipped (SKIP LOCKED) and done by the next run.

-- name: RetentionBlankMessages :execrows
UPDATE messages SET body_enc = NULL, peer_enc = NULL, peer_hash = NULL, updated_at = @now
WHERE id IN (
    SELECT m.id FROM messages m
    WHERE m.created_at < @cutoff
      AND (m.body_enc IS NOT NULL OR m.peer_enc IS NOT NULL OR m.peer_hash IS NOT NULL)
    ORDER BY m.created_at
    LIMIT @lim
    FOR UPDATE SKIP LOCKED);

-- name: RetentionBlankEvidence :execrows
UPDATE responses SET evidence_enc = NULL
WHERE id IN (
    SELECT r.id FROM responses r
    WHERE r.created_at < @cutoff AND r.evidence_enc IS NOT NULL
    ORDER BY r.created_at
    LIMIT @lim
    FOR UPDATE SKIP LOCKED);

-- name: RetentionBlankResolutions :execrows
UPDATE alerts SET resolution_enc = NULL
WHERE id IN (
    SELECT a.id FROM alerts a
    WHERE a.resolved_at < @cutoff AND a.resolution_enc IS NOT NULL
    ORDER BY a.resolved_at
    LIMIT @lim
    FOR UPDATE SKIP LOCKED);

-- The dev provider's outbox is a debugging aid: old entries go.
-- name: RetentionDeleteOutbox :execrows
DELETE FROM dev_outbox
WHERE id IN (
    SELECT o.id FROM dev_outbox o
    WHERE o.created_at < @cutoff
    ORDER BY o.created_at
    LIMIT @lim
    FOR UPDATE SKIP LOCKED);

-- An erased survivor's residue: what a job in flight during the erasure
-- (a reply being assessed, a check-in being sent) wrote after it, or what
-- an erasure interrupted by a crash left.

-- name: RetentionErasedSurvivors :execrows
UPDATE survivors SET reference_enc = NULL, phone_enc = NULL, phone_hash = NULL, duress_enc = NULL, duress_code_enc = NULL
WHERE id IN (
    SELECT s.id FROM survivors s
    WHERE s.status = 'erased'
      AND (s.reference_enc IS NOT NULL OR s.phone_enc IS NOT NULL OR s.phone_hash IS NOT NULL
           OR s.duress_enc IS NOT NULL OR s.duress_code_enc IS NOT NULL)
    LIMIT @lim
    FOR UPDATE SKIP LOCKED);

-- name: RetentionErasedMessages :execrows
UPDATE messages SET body_enc = NULL, peer_enc = NULL, peer_hash = NULL, updated_at = @now
WHERE id IN (
    SELECT m.id FROM survivors s JOIN messages m ON m.survivor_id = s.id
    WHERE s.status = 'erased'
      AND (m.body_enc IS NOT NULL OR m.peer_enc IS NOT NULL OR m.peer_hash IS NOT NULL)
    LIMIT @lim
    FOR UPDATE OF m SKIP LOCKED);

-- Alert texts to staff keep the staff member's number (theirs, not the
-- survivor's); their bodies go, as at erasure.
-- name: RetentionErasedAlertTexts :execrows
UPDATE messages SET body_enc = NULL, updated_at = @now
WHERE id IN (
    SELECT m.id FROM survivors s
    JOIN alerts a ON a.survivor_id = s.id
    JOIN messages m ON m.alert_id = a.id
    WHERE s.status = 'erased' AND m.body_enc IS NOT NULL
    LIMIT @lim
    FOR UPDATE OF m SKIP LOCKED);

-- name: RetentionErasedEvidence :execrows
UPDATE responses SET evidence_enc = NULL
WHERE id IN (
    SELECT r.id FROM survivors s JOIN responses r ON r.survivor_id = s.id
    WHERE s.status = 'erased' AND r.evidence_enc IS NOT NULL
    LIMIT @lim
    FOR UPDATE OF r SKIP LOCKED);

-- name: RetentionErasedResolutions :execrows
UPDATE alerts SET resolution_enc = NULL
WHERE id IN (
    SELECT a.id FROM survivors s JOIN alerts a ON a.survivor_id = s.id
    WHERE s.status = 'erased' AND a.resolution_enc IS NOT NULL
    LIMIT @lim
    FOR UPDATE OF a SKIP LOCKED);

-- name: RetentionErasedConsentNotes :execrows
UPDATE consent_records SET note_enc = NULL
WHERE id IN (
    SELECT c.id FROM survivors s JOIN consent_records c ON c.survivor_id = s.id
    WHERE s.status = 'erased' AND c.note_enc IS NOT NULL
    LIMIT @lim
    FOR UPDATE OF c SKIP LOCKED);
