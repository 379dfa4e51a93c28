-- How many sessions of each status started on each day of the month?
--
-- Asked by: compliance (monthly report chart) and on-call (a day without broker
-- sessions, or a burst of unattributed ones). One row per day of the month (UTC), days
-- without sessions included with zeros; day is the partition dt, the UTC date of
-- start_time. sessions counts every status, failed StartSession calls and denied
-- broker requests included.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: day, sessions, attributed, unattributed, orphan, pending, direct, failed, denied
WITH RECURSIVE days (day) AS (
    SELECT CAST($first_day AS DATE)
    UNION ALL
    SELECT CAST(day + INTERVAL '1' DAY AS DATE)
    FROM days
    WHERE day < CAST($last_day AS DATE)
),
daily AS (
    SELECT
        dt,
        COUNT(*) AS sessions,
        SUM(CASE WHEN status = 'attributed' THEN 1 ELSE 0 END) AS attributed,
        SUM(CASE WHEN status = 'unattributed' THEN 1 ELSE 0 END) AS unattributed,
        SUM(CASE WHEN status = 'orphan' THEN 1 ELSE 0 END) AS orphan,
        SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
        SUM(CASE WHEN status = 'direct' THEN 1 ELSE 0 END) AS direct,
        SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed,
        SUM(CASE WHEN status = 'denied' THEN 1 ELSE 0 END) AS denied
    FROM sessions
    WHERE dt BETWEEN $first_day AND $last_day
    GROUP BY dt
)
SELECT
    CAST(d.day AS VARCHAR) AS day,
    COALESCE(s.sessions, 0) AS sessions,
    COALESCE(s.attributed, 0) AS attributed,
    COALESCE(s.unattributed, 0) AS unattributed,
    COALESCE(s.orphan, 0) AS orphan,
    COALESCE(s.pending, 0) AS pending,
    COALESCE(s.direct, 0) AS direct,
    COALESCE(s.failed, 0) AS failed,
    COALESCE(s.denied, 0) AS denied
FROM days d
LEFT JOIN daily s ON s.dt = CAST(d.day AS VARCHAR)
ORDER BY day
