-- name: ContactWindowCreate :exec
INSERT INTO contact_windows (survivor_id, position, days, start_minute, end_minute)
VALUES (@survivor_id, @position, @days, @start_minute, @end_minute);

-- name: ContactWindowDeleteAll :exec
DELETE FROM contact_windows WHERE survivor_id = @survivor_id;

-- name: ContactWindowList :many
SELECT * FROM contact_windows WHERE survivor_id = @survivor_id ORDER BY position;

-- name: ScheduleInfoForSurvivors :many
SELECT s.id, s.timezone, s.status, w.days, w.start_minute, w.end_minute
FROM survivors s
LEFT JOIN contact_windows w ON w.survivor_id = s.id
WHERE s.id = ANY(@ids::uuid[])
ORDER BY s.id, w.position;
