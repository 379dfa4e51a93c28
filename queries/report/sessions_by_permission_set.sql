-- Which permission sets opened the month's sessions, by how many people, on how many targets?
--
-- Asked by: compliance (monthly access review) and IAM owners (least privilege).
-- Counts every session of the month (UTC start_time: the partitions
-- dt = $first_day .. $last_day) except failed StartSession calls. Sessions without a
-- known permission set (unattributed, IAM users, other roles) form one row with an
-- empty permission_set. users and targets count distinct values.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: permission_set, sessions, attributed, unattributed, orphan, pending, direct,
--   users, targets
SELECT
    permission_set,
    COUNT(*) AS sessions,
    SUM(CASE WHEN status = 'attributed' THEN 1 ELSE 0 END) AS attributed,
    SUM(CASE WHEN status = 'unattributed' THEN 1 ELSE 0 END) AS unattributed,
    SUM(CASE WHEN status = 'orphan' THEN 1 ELSE 0 END) AS orphan,
    SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
    SUM(CASE WHEN status = 'direct' THEN 1 ELSE 0 END) AS direct,
    COUNT(DISTINCT original_user) AS users,
    COUNT(DISTINCT target) AS targets
FROM sessions
WHERE dt BETWEEN $first_day AND $last_day
    AND status NOT IN ('failed', 'denied')
GROUP BY permission_set
ORDER BY sessions DESC, permission_set NULLS LAST
