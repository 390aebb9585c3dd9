-- name: CadenceTemplateCreate :one
INSERT INTO cadence_templates (name, phases, created_by) VALUES (@name, @phases, @created_by)
RETURNING *;

-- name: CadenceTemplateList :many
SELECT * FROM cadence_templates ORDER BY name;

-- name: CadenceTemplateGet :one
SELECT * FROM cadence_templates WHERE id = @id;
