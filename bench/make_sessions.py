"""Writes a synthetic attributed dataset of N sessions (default 10 million) and one
finding per 50 sessions, in sessiontrail's exact schema and Hive layout, for timing
the named queries. Uses DuckDB to write the Parquet quickly.

Usage: python3 bench/make_sessions.py OUT [N]
"""

import os
import shutil
import sys

import duckdb

out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("SET TimeZone = 'UTC'")
con.execute(f"""
CREATE TABLE s AS
SELECT
    'session-broker-' || lpad(printf('%x', i), 17, '0') AS session_id,
    CASE WHEN i % 1000 = 0 THEN 'unattributed' WHEN i % 997 = 0 THEN 'orphan'
         WHEN i % 50 = 0 THEN 'direct' WHEN i % 40 = 0 THEN 'failed' ELSE 'attributed' END AS status,
    TIMESTAMP '2026-01-01' + to_milliseconds((i * 2592000000 // {n})::BIGINT) AS start_time,
    i AS i
FROM range({n}) t(i)
""")
sessions = """
SELECT
    CASE WHEN status = 'failed' THEN NULL ELSE session_id END AS session_id,
    status,
    start_time::TIMESTAMPTZ AS start_time,
    CASE WHEN i % 3 = 0 THEN NULL ELSE (start_time + INTERVAL 20 MINUTE)::TIMESTAMPTZ END AS end_time,
    '1111' || lpad((i % 20)::VARCHAR, 8, '0') AS account_id,
    CASE WHEN i % 2 = 0 THEN 'eu-west-1' ELSE 'us-east-1' END AS region,
    'i-0' || lpad(printf('%x', i % 5000), 16, '0') AS target,
    CASE WHEN i % 400 = 0 THEN 'SSM-SessionManagerRunShell' ELSE 'SSMRunAs-' || ['Admin', 'ReadOnly', 'Data_Engineer', 'Dev'][i % 4 + 1] || '-Session' END AS document_name,
    status <> 'direct' AS via_broker,
    CASE WHEN status = 'orphan' THEN NULL ELSE 'e-' || i END AS cloudtrail_event_id,
    'arn:aws:sts::111122223333:assumed-role/ssm-session-broker/session-broker' AS cloudtrail_principal_arn,
    CASE WHEN status = 'unattributed' THEN NULL ELSE 'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_' || ['Admin', 'ReadOnly', 'Data_Engineer', 'Dev'][i % 4 + 1] || '_0123456789abcdef/user' || (i % 3000) || '@example.com' END AS original_principal_arn,
    CASE WHEN status = 'unattributed' THEN NULL ELSE 'user' || (i % 3000) || '@example.com' END AS original_user,
    CASE WHEN status = 'unattributed' THEN NULL ELSE ['Admin', 'ReadOnly', 'Data_Engineer', 'Dev'][i % 4 + 1] END AS permission_set,
    'SSMRunAs-' || ['Admin', 'ReadOnly', 'Data_Engineer', 'Dev'][i % 4 + 1] || '-Session' AS expected_document,
    ['admin', 'readonly', 'dataeng', 'dev'][i % 4 + 1] AS run_as,
    CASE WHEN status IN ('unattributed', 'direct') THEN NULL ELSE 'b-' || i END AS broker_request_id,
    '198.51.100.' || (i % 250) AS source_ip,
    'aws-sdk-rust/1.3' AS user_agent,
    strftime(start_time, '%Y-%m-%d') AS dt
FROM s
"""
con.execute(f"COPY ({sessions}) TO '{out}/sessions' (FORMAT PARQUET, PARTITION_BY (dt), COMPRESSION SNAPPY)")
findings = """
SELECT
    'document_mismatch-' || printf('%016x', i) AS finding_id,
    CASE WHEN status = 'unattributed' THEN 'unattributed_session' WHEN status = 'orphan' THEN 'orphan_broker_record'
         WHEN status = 'direct' THEN 'direct_session' ELSE 'document_mismatch' END AS rule,
    CASE WHEN status = 'unattributed' THEN 'critical' WHEN status = 'direct' THEN 'medium' ELSE 'high' END AS severity,
    session_id, start_time::TIMESTAMPTZ AS event_time,
    '111122223333' AS account_id, 'eu-west-1' AS region, 'i-0abc' AS target,
    'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/user@example.com' AS principal_arn,
    'Admin' AS permission_set, 'synthetic finding' AS detail, '{}' AS evidence,
    strftime(start_time, '%Y-%m-%d') AS dt
FROM s WHERE status IN ('unattributed', 'orphan', 'direct') OR i % 97 = 0
"""
con.execute(f"COPY ({findings}) TO '{out}/findings' (FORMAT PARQUET, PARTITION_BY (dt), COMPRESSION SNAPPY)")
print(con.execute("SELECT count(*) FROM s").fetchone()[0], "sessions written to", out)
