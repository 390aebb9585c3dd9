-- Programme reports: counts only, per week (Monday, in India's time) and
-- per team (the caseworker's supervisor). Each row says how many distinct
-- survivors it was built from, so the page can suppress small cells.

-- name: ReportCheckins :many
SELECT date_trunc('week', c.sent_at AT TIME ZONE 'Asia/Kolkata')::date AS week,
       cw.supervisor_id AS team,
       coalesce(c.channel, '')::text AS channel,
       count(*) AS sent,
       count(*) FILTER (WHERE c.state = 'answered') AS answered,
       count(DISTINCT c.survivor_id) AS survivors
FROM checkins c
JOIN survivors s ON s.id = c.survivor_id
LEFT JOIN staff cw ON cw.id = s.caseworker_id
WHERE c.sent_at >= @since::timestamptz
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

-- name: ReportFlags :many
SELECT date_trunc('week', f.created_at AT TIME ZONE 'Asia/Kolkata')::date AS week,
       cw.supervisor_id AS team,
       f.severity,
       count(*) AS flags,
       count(DISTINCT f.survivor_id) AS survivors
FROM risk_flags f
JOIN survivors s ON s.id = f.survivor_id
LEFT JOIN staff cw ON cw.id = s.caseworker_id
WHERE f.created_at >= @since::timestamptz
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

-- name: ReportAcknowledge :many
SELECT date_trunc('week', a.created_at AT TIME ZONE 'Asia/Kolkata')::date AS week,
       cw.supervisor_id AS team,
       (percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.acknowledged_at - a.created_at)))::float8 AS median_seconds,
       count(DISTINCT a.survivor_id) AS survivors
FROM alerts a
JOIN survivors s ON s.id = a.survivor_id
LEFT JOIN staff cw ON cw.id = s.caseworker_id
WHERE a.created_at >= @since::timestamptz AND a.acknowledged_at IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: ReportWeekly :many
SELECT date_trunc('week', c.sent_at AT TIME ZONE 'Asia/Kolkata')::date AS week,
       count(*) AS sent,
       count(*) FILTER (WHERE c.state = 'answered') AS answered,
       count(DISTINCT c.survivor_id) AS survivors
FROM checkins c
WHERE c.sent_at >= @since::timestamptz
GROUP BY 1
ORDER BY 1;
