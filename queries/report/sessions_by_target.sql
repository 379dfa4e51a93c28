-- Which targets (instances) had sessions in the month, how many, and by how many people?
--
-- Asked by: compliance (monthly access review) and system owners. One row per
-- account, region and target, over every session of the month (UTC start_time: the
-- partitions dt = $first_day .. $last_day) except failed StartSession calls. users
-- and permission_sets count distinct values.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: account_id, region, target, sessions, attributed, unattributed, orphan,
--   pending, direct, users, permission_sets
SELECT
    account_id,
    region,
    target,
    COUNT(*) AS sessions,
    SUM(CASE WHEN status = 'attributed' THEN 1 ELSE 0 END) AS attributed,
    SUM(CASE WHEN status = 'unattributed' THEN 1 ELSE 0 END) AS unattributed,
    SUM(CASE WHEN status = 'orphan' THEN 1 ELSE 0 END) AS orphan,
    SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
    SUM(CASE WHEN status = 'direct' THEN 1 ELSE 0 END) AS direct,
    COUNT(DISTINCT original_user) AS users,
    COUNT(DISTINCT permission_set) AS permission_sets
FROM sessions
WHERE dt BETWEEN $first_day AND $last_day
    AND status NOT IN ('failed', 'denied')
GROUP BY account_id, region, target
ORDER BY sessions DESC, account_id NULLS LAST, region NULLS LAST, target NULLS LAST
