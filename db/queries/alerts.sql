-- name: AlertCreate :one
INSERT INTO alerts (flag_id, survivor_id, caseworker_id, severity, kind, ack_code, sla_due_at, created_at)
VALUES (@flag_id, @survivor_id, @caseworker_id, @severity, @kind, @ack_code, @sla_due_at, @now)
RETURNING *;

-- name: AlertEventCreate :one
INSERT INTO alert_events (alert_id, kind, staff_id, detail, created_at)
VALUES (@alert_id, @kind, @staff_id, @detail, @now)
RETURNING id;

-- name: AlertEventList :many
SELECT * FROM alert_events WHERE alert_id = @alert_id ORDER BY id;

-- name: AlertGet :one
SELECT * FROM alerts WHERE id = @id;

-- name: AlertGetForUpdate :one
SELECT * FROM alerts WHERE id = @id FOR UPDATE;

-- Alerts are read through the viewer's scope, like survivors, and through
-- the survivor's *current* assignment: a caseworker sees the alerts of the
-- survivors assigned to them now (whoever was assigned when the alert was
-- raised), a supervisor their team's (and their own), an admin all.
-- name: AlertGetScoped :one
SELECT a.* FROM alerts a JOIN survivors s ON s.id = a.survivor_id
WHERE a.id = @id
  AND (@viewer_role::text = 'admin'
       OR s.caseworker_id = @viewer_id::uuid
       OR (@viewer_role::text = 'supervisor'
           AND s.caseworker_id IN (SELECT t.id FROM staff t WHERE t.supervisor_id = @viewer_id::uuid)));

-- name: AlertListScoped :many
SELECT a.* FROM alerts a JOIN survivors s ON s.id = a.survivor_id
WHERE (sqlc.narg(status)::text IS NULL OR a.status = sqlc.narg(status)::text)
  AND (@viewer_role::text = 'admin'
       OR s.caseworker_id = @viewer_id::uuid
       OR (@viewer_role::text = 'supervisor'
           AND s.caseworker_id IN (SELECT t.id FROM staff t WHERE t.supervisor_id = @viewer_id::uuid)))
ORDER BY a.created_at DESC, a.id
LIMIT @lim;

-- name: AlertListUnresolvedScoped :many
-- The dashboard's list: every open or acknowledged alert the viewer may
-- see, most severe and oldest first, so no number of resolved ones can
-- push an open one off the page.
SELECT a.* FROM alerts a JOIN survivors s ON s.id = a.survivor_id
WHERE a.status IN ('open', 'acknowledged')
  AND (@viewer_role::text = 'admin'
       OR s.caseworker_id = @viewer_id::uuid
       OR (@viewer_role::text = 'supervisor'
           AND s.caseworker_id IN (SELECT t.id FROM staff t WHERE t.supervisor_id = @viewer_id::uuid)))
ORDER BY CASE a.severity WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, a.created_at, a.id
LIMIT @lim;

-- name: AlertAcknowledge :one
UPDATE alerts SET status = 'acknowledged', acknowledged_by = @staff_id, acknowledged_at = @now
WHERE id = @id AND status = 'open'
RETURNING *;

-- name: AlertResolve :one
UPDATE alerts SET status = 'resolved', resolved_by = @staff_id, resolved_at = @now,
    resolution_enc = @resolution_enc,
    acknowledged_by = coalesce(acknowledged_by, @staff_id), acknowledged_at = coalesce(acknowledged_at, @now)
WHERE id = @id AND status IN ('open', 'acknowledged')
RETURNING *;

-- name: AlertEscalate :one
UPDATE alerts SET escalation_level = @level, sla_due_at = sqlc.narg(next_due)
WHERE id = @id AND status = 'open' AND escalation_level = @from_level
RETURNING *;

-- AlertFollowSurvivor moves a survivor's unresolved alerts to their
-- current caseworker (after a reassignment) and returns them.
-- name: AlertFollowSurvivor :many
UPDATE alerts SET caseworker_id = @caseworker_id
WHERE survivor_id = @survivor_id AND status IN ('open', 'acknowledged')
RETURNING *;

-- name: AlertListUnresolvedForCaseworker :many
SELECT a.* FROM alerts a JOIN survivors s ON s.id = a.survivor_id
WHERE s.caseworker_id = @caseworker_id AND a.status IN ('open', 'acknowledged')
ORDER BY a.created_at, a.id;

-- name: AlertGetOpenByCode :one
SELECT * FROM alerts WHERE ack_code = @ack_code AND status = 'open';

-- name: AlertListBySurvivor :many
SELECT * FROM alerts WHERE survivor_id = @survivor_id ORDER BY created_at, id;

-- name: RiskFlagGet :one
SELECT * FROM risk_flags WHERE id = @id;

-- name: RiskFlagListBySurvivor :many
SELECT * FROM risk_flags WHERE survivor_id = @survivor_id ORDER BY id;

-- name: ResponseGet :one
SELECT * FROM responses WHERE id = @id;

-- name: ResponseListBySurvivor :many
SELECT * FROM responses WHERE survivor_id = @survivor_id ORDER BY id;

-- name: MessageListBySurvivor :many
SELECT * FROM messages WHERE survivor_id = @survivor_id::uuid ORDER BY id;

-- name: MessageListForAlert :many
SELECT * FROM messages WHERE alert_id = @alert_id::uuid AND staff_id = @staff_id::uuid AND purpose = @purpose ORDER BY id;

-- name: MessageListForReply :many
SELECT * FROM messages WHERE reply_to = @reply_to::bigint AND direction = 'out' ORDER BY id;

-- MessageCreateAttempt records an outbound text before the provider is
-- called (an alert text, or the answer to a reply).
-- name: MessageCreateAttempt :one
INSERT INTO messages (direction, channel, survivor_id, staff_id, alert_id, reply_to, purpose, peer_hash, peer_enc, body_enc,
                      template, language, provider, status, segments, encoding, created_at, updated_at)
VALUES ('out', 'sms', @survivor_id, @staff_id, @alert_id, @reply_to, @purpose, @peer_hash, @peer_enc, @body_enc,
        @template, @language, @provider, 'attempting', @segments, @encoding, @now, @now)
RETURNING *;

-- name: StaffListAdmins :many
SELECT * FROM staff WHERE role = 'admin' AND deactivated_at IS NULL ORDER BY created_at, id;

-- name: AlertCloseForSurvivor :many
UPDATE alerts SET status = 'resolved', resolved_by = @staff_id, resolved_at = @now::timestamptz,
    resolution_enc = NULL
WHERE survivor_id = @survivor_id AND status IN ('open', 'acknowledged')
RETURNING id;

-- AlertListEscalatedInTeam: open alerts that escalated to a supervisor
-- (level 1 or more) on the survivors of their team.
-- name: AlertListEscalatedInTeam :many
SELECT a.* FROM alerts a
JOIN survivors s ON s.id = a.survivor_id
JOIN staff c ON c.id = s.caseworker_id
WHERE c.supervisor_id = @supervisor_id AND a.status = 'open' AND a.escalation_level >= 1
ORDER BY a.created_at, a.id;
