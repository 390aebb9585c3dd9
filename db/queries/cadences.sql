-- name: CadenceUpsert :one
INSERT INTO cadences (survivor_id, phases, starts_at, version, updated_by, updated_at)
VALUES (@survivor_id, @phases, @starts_at, 1, @updated_by, @now)
ON CONFLICT (survivor_id) DO UPDATE
SET phases = EXCLUDED.phases, version = cadences.version + 1,
    updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at
RETURNING *;

-- name: CadenceGet :one
SELECT * FROM cadences WHERE survivor_id = @survivor_id;
