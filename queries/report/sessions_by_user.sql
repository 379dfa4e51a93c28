-- Who opened the month's sessions, how, under how many permission sets, and when?
--
-- Asked by: compliance (monthly access review) and security analysts. One row per
-- original_user (the human the broker record or the direct caller names), over every
-- session of the month (UTC start_time: the partitions dt = $first_day .. $last_day)
-- except failed StartSession calls. Sessions nobody could be tied to (unattributed,
-- or pending without a broker record) form one row with an empty original_user.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: original_user, sessions, attributed, unattributed, orphan, pending, direct,
--   permission_sets, targets, first_start_time, last_start_time
SELECT
    original_user,
    COUNT(*) AS sessions,
    SUM(CASE WHEN status = 'attributed' THEN 1 ELSE 0 END) AS attributed,
    SUM(CASE WHEN status = 'unattributed' THEN 1 ELSE 0 END) AS unattributed,
    SUM(CASE WHEN status = 'orphan' THEN 1 ELSE 0 END) AS orphan,
    SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
    SUM(CASE WHEN status = 'direct' THEN 1 ELSE 0 END) AS direct,
    COUNT(DISTINCT permission_set) AS permission_sets,
    COUNT(DISTINCT target) AS targets,
    MIN(start_time) AS first_start_time,
    MAX(start_time) AS last_start_time
FROM sessions
WHERE dt BETWEEN $first_day AND $last_day
    AND status NOT IN ('failed', 'denied')
GROUP BY original_user
ORDER BY sessions DESC, original_user NULLS LAST
