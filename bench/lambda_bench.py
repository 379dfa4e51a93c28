"""The Lambda path (BENCHMARKS.md, target 6): one S3 Object Created invocation on a large
CloudTrail file, timed and measured under cargo-lambda's Runtime API emulator, with
moto's server as S3 on 127.0.0.1.

Each run starts a fresh function process (release build), invokes it once with the
Object Created event of the file, and reads its peak RSS (VmHWM) afterwards; the
dataset prefix is new each run, so every run does the same work.

Usage: python3 bench/lambda_bench.py --lambda-bin target-release/release/sessiontrail-lambda \
           --cli-bin target-release/release/sessiontrail [--runs 5] [--size 50MB] [--work DIR]
Needs: pip install 'moto[server]' cargo-lambda boto3.
"""

import argparse
import gzip
import glob
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on {port}")


def one_big_log_file(cli, work, size_bytes, compressed):
    """A CloudTrail log file `{"Records":[...]}` of about size_bytes: uncompressed
    content, or (compressed=True) gzipped size, made of generated records."""
    data = os.path.join(work, "generated")
    target = size_bytes * (24 if compressed else 3)
    if not os.path.isdir(data):
        subprocess.run([cli, "generate", "--out", data, "--seed", "5", "--target-size", str(target)],
                       check=True, capture_output=True)
    pieces, total = [], 0
    for path in sorted(glob.glob(f"{data}/cloudtrail/AWSLogs/*/CloudTrail/*/*/*/*/*.json.gz")):
        text = gzip.open(path).read()
        inner = text.strip()[len(b'{"Records":['):-2]
        pieces.append(inner)
        total += len(inner)
        if not compressed and total >= size_bytes:
            break
    body = b'{"Records":[' + b",".join(pieces) + b"]}"
    out = gzip.compress(body, compresslevel=6)
    if compressed:
        # Trim whole pieces until the gzipped file is about size_bytes.
        while len(out) > size_bytes * 1.05 and len(pieces) > 1:
            pieces = pieces[: int(len(pieces) * size_bytes / len(out))] or pieces[:1]
            body = b'{"Records":[' + b",".join(pieces) + b"]}"
            out = gzip.compress(body, compresslevel=6)
    return out, len(body), os.path.join(data, "sessiontrail.toml")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lambda-bin", required=True)
    parser.add_argument("--cli-bin", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="50MB")
    parser.add_argument("--compressed", action="store_true",
                        help="--size is the gzipped object's size (default: the JSON inside)")
    parser.add_argument("--work", default=None)
    args = parser.parse_args()
    size = int(float(args.size.upper().rstrip("MB")) * 1e6)
    work = args.work or tempfile.mkdtemp(prefix="sessiontrail-lambda-bench-")
    os.makedirs(work, exist_ok=True)
    body, inflated, policy = one_big_log_file(args.cli_bin, work, size, args.compressed)
    key = "AWSLogs/300226798666/CloudTrail/eu-west-1/2026/02/01/300226798666_CloudTrail_eu-west-1_20260201T0100Z_benchbenchbench1.json.gz"

    moto_port, rt_port = free_port(), free_port()
    env = dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{moto_port}", AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
               AWS_EC2_METADATA_DISABLED="true")
    procs = [subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_listening(moto_port)
        import boto3
        s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        for bucket in ["trail-bucket", "audit-out"]:
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket="trail-bucket", Key=key, Body=body)
        s3.upload_file(policy, "audit-out", "config/sessiontrail.toml")
        event = os.path.join(work, "event.json")
        with open(event, "w") as f:
            json.dump({"version": "0", "id": "bench", "detail-type": "Object Created", "source": "aws.s3",
                       "detail": {"bucket": {"name": "trail-bucket"}, "object": {"key": key, "size": len(body)}}}, f)
        procs.append(subprocess.Popen(["cargo", "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1",
                                       "-P", str(rt_port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        wait_listening(rt_port)
        rows = []
        for run in range(args.runs):
            fenv = dict(env, AWS_LAMBDA_RUNTIME_API=f"http://127.0.0.1:{rt_port}/.rt",
                        AWS_LAMBDA_FUNCTION_NAME="_", AWS_LAMBDA_FUNCTION_VERSION="1",
                        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
                        SESSIONTRAIL_OUT=f"s3://audit-out/run-{run}",
                        SESSIONTRAIL_POLICY="s3://audit-out/config/sessiontrail.toml",
                        SESSIONTRAIL_CLOUDTRAIL="s3://trail-bucket/AWSLogs/",
                        SESSIONTRAIL_AS_OF="2026-02-03T01:00:00Z")
            function = subprocess.Popen([args.lambda_bin], env=fenv, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
            started = time.time()
            out = subprocess.run(["cargo", "lambda", "invoke", "-A", "127.0.0.1", "-P", str(rt_port),
                                  "--output-format", "json", "--data-file", event, "_"],
                                 cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
            wall = time.time() - started
            outcome = json.loads(out.stdout)
            with open(f"/proc/{function.pid}/status") as f:
                hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
            function.kill()
            function.wait()
            rows.append((wall, outcome["elapsed_ms"] / 1000, hwm, outcome))
            print(f"run {run + 1}: invoke {wall:.2f} s, handler {outcome['elapsed_ms']} ms, peak RSS {hwm:.0f} MB, "
                  f"{outcome.get('session_events')} ssm events", flush=True)
        def stats(i):
            values = [r[i] for r in rows]
            return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"
        print(f"\nobject: {len(body) / 1e6:.1f} MB gzipped, {inflated / 1e6:.1f} MB of JSON")
        print("| figure | min / median / max |\n|---|---|")
        print(f"| invoke wall time, s (cargo lambda invoke) | {stats(0)} |")
        print(f"| handler time, s (download, read, correlate, write) | {stats(1)} |")
        print(f"| function peak RSS, MB | {stats(2)} |")
        print(f"| handler throughput, MB/s of JSON | {inflated / 1e6 / statistics.median([r[1] for r in rows]):.0f} |")
    finally:
        for p in procs:
            p.kill()


if __name__ == "__main__":
    main()
