"""Times each named query (queries/*.sql) with `sessiontrail query` and with DuckDB over
the same Parquet dataset, and checks both return the same number of rows.

Usage: python3 bench/queries.py DATA [--runs 5] [--bin PATH]
"""

import argparse
import glob
import os
import statistics
import subprocess
import time

import duckdb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

parser = argparse.ArgumentParser()
parser.add_argument("data")
parser.add_argument("--runs", type=int, default=5)
parser.add_argument("--bin", default=os.path.expanduser("~/.cache/sessiontrail/target-release/release/sessiontrail"))
args = parser.parse_args()

con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("SET TimeZone = 'UTC'")
for table in ["sessions", "findings"]:
    con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{args.data}/{table}/*/*.parquet', hive_partitioning = true)")

print("| query | sessiontrail s (min/median/max) | DuckDB s (min/median/max) | ratio DuckDB/sessiontrail | rows |")
print("|---|---|---|---|---|")
for path in sorted(glob.glob(os.path.join(ROOT, "queries", "*.sql"))):
    name = os.path.basename(path)[:-4]
    sql = open(path).read()
    ours, theirs = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        out = subprocess.run([args.bin, "query", "--data", args.data, "--name", name, "--format", "csv"],
                             check=True, capture_output=True, text=True).stdout
        ours.append(time.perf_counter() - start)
        rows_ours = max(len(out.splitlines()) - 1, 0)
        start = time.perf_counter()
        try:
            rows_duck = len(con.execute(sql).fetchall())
        except duckdb.Error as err:
            rows_duck = f"DuckDB error: {str(err).splitlines()[0][:60]}"
        theirs.append(time.perf_counter() - start)
    fmt = lambda xs: f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f}"
    rows = f"{rows_ours}" if rows_ours == rows_duck else f"{rows_ours} vs {rows_duck}"
    print(f"| {name} | {fmt(ours)} | {fmt(theirs)} | {statistics.median(theirs) / statistics.median(ours):.2f} | {rows} |")
