-- name: StaffCreate :one
INSERT INTO staff (name_enc, role, supervisor_id, language, phone_enc, phone_hash, token_hash,
                   username_hash, username_enc, password_hash)
VALUES (@name_enc, @role, @supervisor_id, @language, @phone_enc, @phone_hash, @token_hash,
        @username_hash, @username_enc, @password_hash)
RETURNING *;

-- name: StaffGet :one
SELECT * FROM staff WHERE id = @id AND deactivated_at IS NULL;

-- name: StaffGetByTokenHash :one
SELECT * FROM staff WHERE token_hash = @token_hash AND deactivated_at IS NULL;

-- name: StaffGetByPhoneHash :one
SELECT * FROM staff WHERE phone_hash = @phone_hash AND deactivated_at IS NULL;

-- name: StaffList :many
SELECT * FROM staff WHERE deactivated_at IS NULL ORDER BY created_at, id;

-- StaffUpsertDemo creates or refreshes a demo staff member (dev only) with
-- a fixed ID, so `make run` can print fresh tokens every time.
-- name: StaffUpsertDemo :one
INSERT INTO staff (id, name_enc, role, supervisor_id, language, phone_enc, phone_hash, token_hash,
                   username_hash, username_enc, password_hash)
VALUES (@id, @name_enc, @role, @supervisor_id, @language, @phone_enc, @phone_hash, @token_hash,
        @username_hash, @username_enc, @password_hash)
ON CONFLICT (id) DO UPDATE SET token_hash = EXCLUDED.token_hash, deactivated_at = NULL,
    username_hash = EXCLUDED.username_hash, username_enc = EXCLUDED.username_enc,
    password_hash = EXCLUDED.password_hash, session_generation = staff.session_generation + 1
RETURNING *;

-- StaffGetAny reads a staff member whether active or not (alert routing
-- needs a deactivated caseworker's supervisor).
-- name: StaffGetAny :one
SELECT * FROM staff WHERE id = @id;

-- name: StaffGetForUpdate :one
SELECT * FROM staff WHERE id = @id FOR UPDATE;

-- name: StaffSetToken :execrows
UPDATE staff SET token_hash = @token_hash WHERE id = @id AND deactivated_at IS NULL;

-- name: StaffDeactivate :execrows
UPDATE staff SET deactivated_at = @now WHERE id = @id AND deactivated_at IS NULL;

-- name: StaffGetByUsernameHash :one
SELECT * FROM staff WHERE username_hash = @username_hash AND deactivated_at IS NULL;

-- StaffSetPassword sets a password and ends every session.
-- name: StaffSetPassword :execrows
UPDATE staff SET password_hash = @password_hash, session_generation = session_generation + 1
WHERE id = @id AND deactivated_at IS NULL;

-- StaffEndSessions ends every session of a staff member ("sign out everywhere").
-- name: StaffEndSessions :exec
UPDATE staff SET session_generation = session_generation + 1 WHERE id = @id;

-- name: SessionDeleteExpired :execrows
DELETE FROM sessions WHERE expiry < @now;

-- name: StaffListAll :many
SELECT * FROM staff ORDER BY deactivated_at NULLS FIRST, created_at, id;
