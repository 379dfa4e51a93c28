-- Which permission sets are used for sessions, by how many people, on how many targets?
--
-- Asked by: compliance and IAM owners (least privilege: unused or over-used permission
-- sets). Counts every session that was not a failed StartSession; users are distinct
-- original_user values. Sessions without a known permission set (IAM users, other
-- roles, unattributed) form one row with an empty permission_set.
-- Columns: permission_set, sessions, users, targets, accounts
SELECT
    permission_set,
    COUNT(*) AS sessions,
    COUNT(DISTINCT original_user) AS users,
    COUNT(DISTINCT target) AS targets,
    COUNT(DISTINCT account_id) AS accounts
FROM sessions
WHERE status NOT IN ('failed', 'denied')
GROUP BY permission_set
ORDER BY sessions DESC, permission_set NULLS LAST
