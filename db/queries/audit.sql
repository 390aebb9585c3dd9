-- name: AuditLogCreate :exec
INSERT INTO audit_log (staff_id, action, survivor_id, detail)
VALUES (@staff_id, @action, @survivor_id, @detail);

-- name: AuditLogCreateMany :exec
INSERT INTO audit_log (staff_id, action, survivor_id)
SELECT @staff_id, @action, unnest(@survivor_ids::uuid[]);

-- AuditLogPage lists the audit log newest first, before an ID (paging).
-- name: AuditLogPage :many
SELECT a.id, a.staff_id, a.action, a.survivor_id, a.detail, a.created_at, s.case_code
FROM audit_log a LEFT JOIN survivors s ON s.id = a.survivor_id
WHERE (sqlc.narg(before)::bigint IS NULL OR a.id < sqlc.narg(before)::bigint)
ORDER BY a.id DESC
LIMIT @lim;
