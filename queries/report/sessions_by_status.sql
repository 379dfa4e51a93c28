-- How many sessions of each status started in the month?
--
-- Asked by: compliance (monthly report) and security analysts. A session belongs to
-- the month of its start_time (UTC): the partitions dt = $first_day .. $last_day.
-- Every known status has a row, with 0 when none; an unknown status gets a row too.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: status, sessions
WITH statuses (status, position) AS (
    VALUES
        ('attributed', 1),
        ('unattributed', 2),
        ('orphan', 3),
        ('pending', 4),
        ('direct', 5),
        ('failed', 6)
),
counts AS (
    SELECT status, COUNT(*) AS sessions
    FROM sessions
    WHERE dt BETWEEN $first_day AND $last_day
    GROUP BY status
)
SELECT
    COALESCE(s.status, c.status) AS status,
    COALESCE(c.sessions, 0) AS sessions
FROM statuses s
FULL OUTER JOIN counts c ON c.status = s.status
ORDER BY COALESCE(s.position, 99), COALESCE(s.status, c.status)
