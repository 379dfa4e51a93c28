"""DuckDB doing sessiontrail's core job in SQL, for the benchmark's comparison.

read_json + unnest(Records), keep ssm session StartSessions, dedupe eventID, left join
the broker log (JSON lines, non-JSON lines filtered out), count broker starts and the
ones no broker record matches. Prints `broker_starts=N unmatched=M` so bench.py can
check the answer equals sessiontrail's.

Usage: python3 duckdb_job.py DATA_DIR BROKER_ROLE_ARN [BROKER_ROLE_ARN...]
"""

import glob
import sys

import duckdb

data, roles = sys.argv[1], sys.argv[2:]
con = duckdb.connect()
threads = int(__import__("os").environ.get("DUCKDB_THREADS", "2"))
con.execute(f"SET threads = {threads}")
cloudtrail_files = sorted(
    f for f in glob.glob(f"{data}/cloudtrail/**/*.json.gz", recursive=True) if "/CloudTrail/" in f
)
broker_files = sorted(glob.glob(f"{data}/broker/[0-9]*/**/*.jsonl.gz", recursive=True))
as_list = lambda files: "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
role_list = ", ".join("'" + r.replace("'", "''") + "'" for r in roles)
query = f"""
WITH records AS (
    SELECT unnest(Records) AS r
    FROM read_json({as_list(cloudtrail_files)},
                   columns = {{'Records': 'JSON[]'}}, format = 'auto',
                   maximum_object_size = 1073741824)
),
starts AS (
    SELECT DISTINCT ON (event_id) *
    FROM (
        SELECT r->>'$.eventID' AS event_id,
               r->>'$.responseElements.sessionId' AS session_id,
               r->>'$.requestID' AS request_id,
               r->>'$.userIdentity.sessionContext.sessionIssuer.arn' AS issuer_arn,
               r->>'$.errorCode' AS error_code
        FROM records
        WHERE r->>'$.eventSource' = 'ssm.amazonaws.com'
          AND r->>'$.eventName' = 'StartSession'
    )
),
broker_lines AS (
    SELECT line FROM read_csv({as_list(broker_files)},
        columns = {{'line': 'VARCHAR'}}, delim = '\x01', quote = '', escape = '',
        header = false, auto_detect = false)
    WHERE line LIKE '{{%' AND json_valid(line) AND (line::JSON)->>'$.v' IS NOT NULL
),
broker AS (
    SELECT DISTINCT (line::JSON)->>'$.session_id' AS session_id,
           (line::JSON)->>'$.ssm_request_id' AS ssm_request_id
    FROM broker_lines
    WHERE (line::JSON)->>'$.outcome' = 'started'
),
matched AS (
    SELECT DISTINCT s.event_id FROM starts s JOIN broker b
      ON s.session_id = b.session_id
      OR (b.session_id IS NULL AND s.request_id = b.ssm_request_id)
)
SELECT count(*) AS broker_starts,
       count(*) FILTER (WHERE m.event_id IS NULL) AS unmatched
FROM starts s LEFT JOIN matched m ON s.event_id = m.event_id
WHERE s.error_code IS NULL AND s.issuer_arn IN ({role_list})
"""
starts, unmatched = con.execute(query).fetchone()
print(f"broker_starts={starts} unmatched={unmatched}")
