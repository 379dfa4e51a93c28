#!/usr/bin/env bash
# Peak memory of `sessiontrail correlate` on hostile inputs (issue 12, item 2): a gzip
# bomb of each kind the readers meet, each read under /usr/bin/time -v, printing the
# maximum resident set size, the wall time and the reject it gave.
#
#   bench/bomb_rss.sh                      # the release binary if built, else debug
#   SESSIONTRAIL_BIN=path/to/sessiontrail bench/bomb_rss.sh
#
# Needs python3 (to write the bombs) and /usr/bin/time (apt-get install time). The
# bombs (about 60 MB in all) are written to a temporary folder and removed after.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="${SESSIONTRAIL_BIN:-}"
if [[ -z "$bin" ]]; then
  if [[ -x "$target/release/sessiontrail" ]]; then bin="$target/release/sessiontrail"
  else bin="$target/debug/sessiontrail"; fi
fi
[[ -x "$bin" ]] || { echo "no sessiontrail binary at $bin (cargo build --release)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time is missing: apt-get install time" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'EOF'
import base64, gzip, json, os, sys, zlib
work = sys.argv[1]
MiB = 1 << 20

def gz_stream(path, pieces):
    """Writes a single-member gzip of the pieces (bytes), compressed as they come."""
    with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0) as g:
        for piece in pieces:
            g.write(piece)

def zeros(total):
    block = bytes(MiB)
    for _ in range(total // MiB):
        yield block

def gz_bytes(pieces):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [c.compress(p) for p in pieces]
    out.append(c.flush())
    return b"".join(out)

record = {"v": 1, "ts": "2026-02-01T10:00:00Z", "request_id": "ok-1",
          "caller_arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/a@example.com",
          "permission_set": "Admin", "account_id": "111122223333", "region": "eu-west-1",
          "target": "i-1", "document_name": "SSMRunAs-Admin-Session", "outcome": "started",
          "session_id": "s-1"}
start = {"eventVersion": "1.09", "eventSource": "ssm.amazonaws.com", "eventName": "StartSession",
         "eventTime": "2026-02-01T10:00:00Z", "eventID": "E1", "awsRegion": "eu-west-1",
         "recipientAccountId": "111122223333",
         "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/ssm-session-broker/b",
                          "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/ssm-session-broker",
                                                               "userName": "ssm-session-broker"}}},
         "requestParameters": {"target": "i-1", "documentName": "SSMRunAs-Admin-Session"},
         "responseElements": {"sessionId": "s-1"}}

def folder(name):
    path = os.path.join(work, name)
    os.makedirs(path, exist_ok=True)
    return path

# The good side of every run.
with open(os.path.join(folder("good-ct"), "ct.json"), "w") as f:
    f.write(json.dumps({"Records": [start]}))
with open(os.path.join(folder("good-broker"), "broker.jsonl"), "w") as f:
    f.write(json.dumps(record) + "\n")
with open(os.path.join(work, "policy.toml"), "w") as f:
    f.write('default_document = "SSM-SessionManagerRunShell"\n[broker]\n'
            'role_arns = ["arn:aws:iam::111122223333:role/ssm-session-broker"]\n'
            '[[permission_set]]\nname = "Admin"\ndocument = "SSMRunAs-Admin-Session"\nrun_as = "admin"\n')

# 1. A CloudTrail log file: 1 GiB of zeros inside the Records array (about 1 MB).
gz_stream(os.path.join(folder("ct-bomb"), "bomb.json.gz"),
          [b'{"Records":['] + list(zeros(1 << 30)) + [b"]}"])
# 2. A broker log: 1 GiB of zeros (about 1 MB).
gz_stream(os.path.join(folder("broker-bomb"), "bomb.jsonl.gz"), zeros(1 << 30))
# 3. A subscription payload whose awslogs.data inflates to 1 GiB (1.4 MB).
inner = gz_bytes(zeros(1 << 30))
with open(os.path.join(folder("awslogs-bomb"), "subscription.json"), "w") as f:
    f.write(json.dumps({"awslogs": {"data": base64.b64encode(inner).decode()}}) + "\n")
# 4. Gzip in gzip: a gzipped file of 2,000 identical payload lines, each inflating to
#    20 MiB (40 GB of inflating without a budget per file).
inner = gz_bytes(zeros(20 << 20))
line = (json.dumps({"awslogs": {"data": base64.b64encode(inner).decode()}}) + "\n").encode()
gz_stream(os.path.join(folder("nested-bomb"), "payloads.json.gz"), [line] * 2000)
# 5. A broker line of 2 million tiny maps (16 MiB; about 1.3 GB as parsed values).
with open(os.path.join(folder("maps"), "maps.jsonl"), "w") as f:
    f.write('{"v":1,"x":[' + '{"a":0},' * (2 << 20) + "0]}\n")
EOF

printf '%-52s %14s %9s  %s\n' "input" "peak RSS (MB)" "wall (s)" "reject"
measure() {
  local what="$1" ct="$2" broker="$3"
  local out="$work/out-$RANDOM"
  local stats="$work/time.txt"
  /usr/bin/time -v -o "$stats" "$bin" correlate --policy "$work/policy.toml" \
    --cloudtrail "$ct" --broker-log "$broker" --out "$out" --as-of 2026-02-02T00:00:00Z \
    --threads 2 > "$work/stdout.txt" 2> "$work/stderr.txt" || {
      echo "$what: sessiontrail failed:" >&2; cat "$work/stderr.txt" >&2; exit 1; }
  local kib wall reject
  kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$stats")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$stats")
  reject=$(grep -m1 -E 'bomb|limit|too many' "$work/stdout.txt" | sed -E 's/^[^(]*\(byte [0-9]+\): //' | cut -c1-120 || true)
  printf '%-52s %14.1f %9s  %s\n' "$what" "$(echo "$kib / 1000" | bc -l)" "$wall" "${reject:--}"
}

echo "binary: $bin"
measure "baseline: one session, nothing hostile" "$work/good-ct" "$work/good-broker"
measure "CloudTrail gzip bomb (1 GiB of zeros, 1 MB)" "$work/ct-bomb" "$work/good-broker"
measure "broker log gzip bomb (1 GiB of zeros, 1 MB)" "$work/good-ct" "$work/broker-bomb"
measure "awslogs.data inflating to 1 GiB (1.4 MB line)" "$work/good-ct" "$work/awslogs-bomb"
measure "gzip in gzip: 2,000 payloads of 20 MiB, gzipped" "$work/good-ct" "$work/nested-bomb"
measure "a 16 MiB broker line of 2 million maps" "$work/good-ct" "$work/maps"
