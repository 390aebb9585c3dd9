-- name: AuditLogCreate :exec
INSERT INTO audit_log (staff_id, action, survivor_id, detail)
VALUES (@staff_id, @action, @survivor_id, @detail);

-- name: AuditLogCreateMany :exec
INSERT INTO audit_log (staff_id, action, survivor_id)
SELECT @staff_id, @action, unnest(@survivor_ids::uuid[]);
