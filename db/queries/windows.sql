-- name: ContactWindowCreate :exec
INSERT INTO contact_windows (survivor_id, position, days, start_minute, end_minute)
VALUES (@survivor_id, @position, @days, @start_minute, @end_minute);

-- name: ContactWindowDeleteAll :exec
DELETE FROM contact_windows WHERE survivor_id = @survivor_id;

-- name: ContactWindowList :many
SELECT * FROM contact_windows WHERE survivor_id = @survivor_id ORDER BY position;
