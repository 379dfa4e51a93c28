"""The benchmark: every contender on the same generated CloudTrail in the same run.

Contenders (throughput in MB/s of *uncompressed* CloudTrail, wall time, peak RSS):
  sessiontrail correlate, 2 threads and 1 thread (release build, fresh output each run)
  DuckDB doing the same job in SQL (duckdb_job.py; its answer is checked equal to ours)
  igzip -dc, one process per core (decompression only: the floor)
  zcat, one process
With --verify (the data then has signed digests: generate --digests):
  sessiontrail correlate --verify, 2 threads (hashing each file in the pass that reads it)
  sessiontrail verify, 2 threads (digests and every log file's SHA-256, no correlation)
  and their answers are checked: every log file verified, the same sessions as correlate.

Usage: python3 bench/bench.py [--sizes 1GB] [--runs 5] [--work DIR] [--smoke] [--verify]
Prints a markdown table (min / median / max over the runs) and the ratios.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, **kwargs):
    """(seconds, peak RSS in MB, stdout) of one command, via GNU time."""
    with tempfile.NamedTemporaryFile("r") as report:
        full = ["/usr/bin/time", "-f", "%e %M", "-o", report.name, *cmd]
        out = subprocess.run(full, check=True, capture_output=True, text=True, **kwargs)
        seconds, kb = report.read().split()[-2:]
        return float(seconds), int(kb) / 1024, out.stdout


def size_bytes(text):
    m = re.fullmatch(r"([\d.]+)\s*(GB|MB)", text.strip(), re.I)
    return int(float(m.group(1)) * (1e9 if m.group(2).upper() == "GB" else 1e6))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1GB", help="comma-separated, e.g. 250MB,1GB,4GB")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--work", default=os.path.expanduser("~/.cache/sessiontrail/bench"))
    parser.add_argument("--bin", default=None, help="sessiontrail binary (default: release build)")
    parser.add_argument("--smoke", action="store_true", help="tiny data, one run: checks the script works")
    parser.add_argument("--skip", default="", help="comma-separated contenders to skip")
    parser.add_argument("--verify", action="store_true",
                        help="signed digests in the data; adds correlate --verify and verify")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.runs = "20MB", 1
    skip = set(filter(None, args.skip.split(",")))
    binary = args.bin or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/sessiontrail/target-release")),
        "release", "sessiontrail")
    cores = os.cpu_count() or 2
    rows = []
    for size in args.sizes.split(","):
        data = os.path.join(args.work, f"data-{size}" + ("-digests" if args.verify else ""))
        if not os.path.exists(os.path.join(data, "truth.json")):
            shutil.rmtree(data, ignore_errors=True)
            print(f"generating {size} into {data}", file=sys.stderr)
            subprocess.run([binary, "generate", "--out", data, "--seed", "1", "--target-size", size,
                            *(["--digests"] if args.verify else [])], check=True)
        truth = json.load(open(os.path.join(data, "truth.json")))
        policy = tomllib.load(open(os.path.join(data, "sessiontrail.toml"), "rb"))
        files = sorted(
            os.path.join(d, f)
            for d, _, fs in os.walk(os.path.join(data, "cloudtrail"))
            for f in fs if f.endswith(".json.gz") and "/CloudTrail/" in os.path.join(d, f))
        lists = []
        for i in range(cores + 1):
            path = os.path.join(args.work, f"files-{size}-{i}.txt")
            with open(path, "w") as f:
                f.write("\n".join(files if i == cores else files[i::cores]) + "\n")
            lists.append(path)
        raw = int(subprocess.run(["sh", "-c", f"xargs -d '\\n' -a {lists[-1]} zcat | wc -c"],
                                 capture_output=True, text=True, check=True).stdout)
        out = os.path.join(args.work, "out")

        verified_out = os.path.join(args.work, "out-verified")
        keys = os.path.join(data, truth["evidence"]["public_keys"]) if args.verify else None

        def correlate(threads, verify=False):
            target = verified_out if verify else out
            shutil.rmtree(target, ignore_errors=True)
            return [binary, "correlate", "--policy", os.path.join(data, "sessiontrail.toml"),
                    "--cloudtrail", os.path.join(data, "cloudtrail"), "--broker-log", os.path.join(data, "broker"),
                    "--out", target, "--as-of", truth["as_of"], "--threads", str(threads), "--quiet",
                    *(["--verify", "--public-keys", keys] if verify else [])]

        contenders = {
            "sessiontrail 2 threads": lambda: correlate(2),
            "sessiontrail 1 thread": lambda: correlate(1),
            "DuckDB SQL job": lambda: [sys.executable, os.path.join(ROOT, "bench", "duckdb_job.py"), data,
                                       *policy["broker"]["role_arns"]],
            f"igzip -dc x{cores} (floor)": lambda: ["sh", "-c", " & ".join(
                f"xargs -d '\\n' -a {lists[i]} igzip -dc > /dev/null" for i in range(cores)) + "; wait"],
            "zcat x1": lambda: ["sh", "-c", f"xargs -d '\\n' -a {lists[-1]} zcat > /dev/null"],
        }
        if args.verify:
            contenders["sessiontrail --verify 2 threads"] = lambda: correlate(2, verify=True)
            contenders["sessiontrail verify 2 threads"] = lambda: [
                binary, "verify", "--cloudtrail", os.path.join(data, "cloudtrail"), "--public-keys", keys,
                "--threads", "2"]
        for name, make in contenders.items():
            if any(s in name for s in skip):
                continue
            times, rss = [], []
            for _ in range(args.runs):
                seconds, mb, stdout = timed(make())
                times.append(seconds)
                rss.append(mb)
                if name.startswith("DuckDB"):
                    duck = stdout.strip()
            rows.append((size, name, raw, times, max(rss)))
        if "DuckDB" not in skip:
            ours = subprocess.run([binary, "query", "--data", out, "--format", "csv",
                "SELECT count(*) FILTER (WHERE status <> 'failed') AS s, count(*) FILTER (WHERE status IN "
                "('unattributed','pending')) AS u FROM sessions WHERE via_broker AND cloudtrail_event_id IS NOT NULL"],
                capture_output=True, text=True, check=True).stdout.splitlines()[1].split(",")
            ours = f"broker_starts={ours[0]} unmatched={ours[1]}"
            status = "equal" if ours == duck else "DIFFERENT"
            print(f"answer check ({size}): sessiontrail {ours}; DuckDB {duck}: {status}")
            if ours != duck:
                sys.exit(1)
        if args.verify and "verify" not in skip:
            def answer(target, sql):
                return subprocess.run([binary, "query", "--data", target, "--format", "csv", sql],
                                      capture_output=True, text=True, check=True).stdout
            sessions = "SELECT status, count(*) AS n FROM sessions GROUP BY status ORDER BY status"
            same = answer(out, sessions) == answer(verified_out, sessions)
            statuses = answer(verified_out, "SELECT status, count(*) AS n FROM evidence GROUP BY status")
            complete = statuses.splitlines()[1:] == [f"verified,{len(files)}"]
            print(f"answer check ({size}): correlate --verify sessions same as correlate: {same}; "
                  f"evidence {statuses.splitlines()[1:]} of {len(files)} log files: "
                  f"{'all verified' if complete else 'NOT ALL VERIFIED'}")
            if not (same and complete):
                sys.exit(1)

    print("\n| data | contender | MB/s min | MB/s median | MB/s max | seconds median | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    medians = {}
    for size, name, raw, times, rss in rows:
        rates = sorted(raw / 1e6 / t for t in times)
        medians[(size, name)] = statistics.median(rates)
        print(f"| {size} ({raw / 1e9:.2f} GB raw) | {name} | {rates[0]:.0f} | {statistics.median(rates):.0f} | "
              f"{rates[-1]:.0f} | {statistics.median(times):.2f} | {rss:.0f} |")
    print()
    for size in args.sizes.split(","):
        m = {n: v for (s, n), v in medians.items() if s == size}
        ours = m.get("sessiontrail 2 threads")
        if not ours:
            continue
        for name, value in m.items():
            if name != "sessiontrail 2 threads":
                print(f"{size}: sessiontrail 2 threads / {name} = {ours / value:.2f}x")
        floor = next((v for n, v in m.items() if n.startswith("igzip")), None)
        if "sessiontrail --verify 2 threads" in m:
            added = ours / m["sessiontrail --verify 2 threads"] - 1
            print(f"{size}: --verify adds {added * 100:.0f} % to correlate's time (target: at most 60 %)")
        if "sessiontrail verify 2 threads" in m and floor:
            print(f"{size}: verify / igzip floor = {m['sessiontrail verify 2 threads'] / floor:.2f}x "
                  f"(target: at least 0.6x)")


if __name__ == "__main__":
    main()
