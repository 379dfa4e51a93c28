#!/usr/bin/env bash
# Fetches a trail's CloudTrail digest files, their signatures and the public keys from
# AWS, for offline verification (sessiontrail verify, or any tool that reads the same
# layout). See --help.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: fetch-digest-signatures.sh --bucket BUCKET --out DIR
           (--prefix DIGEST_PREFIX | --account ID --region REGION [--org-id O-ID] [--key-prefix P])
           [--home-region REGION] [--start-time T] [--end-time T]

Downloads every CloudTrail digest file (*.json.gz, backfill digests included) under a
trail's digest prefix of BUCKET, and beside each one writes what
`aws s3api head-object` prints for it, as <digest file name>.metadata.json: its S3 user
metadata holds the signature (Metadata.signature, Metadata.signature-algorithm) that
a digest's content does not. Then saves `aws cloudtrail list-public-keys` for the
period as public-keys.json. Layout (DIR/cloudtrail plays the bucket):

  DIR/cloudtrail/<digest key>                   the digest, as stored
  DIR/cloudtrail/<digest key>.metadata.json     its head-object output
  DIR/public-keys.json                          list-public-keys output

The log files themselves are not fetched: sync them into the same folder, e.g.
  aws s3 sync s3://BUCKET/[P/]AWSLogs/ID/CloudTrail/REGION/ DIR/cloudtrail/[P/]AWSLogs/ID/CloudTrail/REGION/

Options:
  --bucket BUCKET       the trail's S3 bucket
  --out DIR             output folder (created)
  --prefix PREFIX       the digest prefix to list, e.g.
                        AWSLogs/111122223333/CloudTrail-Digest/us-east-1/
  --account ID          with --region (and --org-id, --key-prefix): builds the prefix
                        [P/]AWSLogs/[O-ID/]ID/CloudTrail-Digest/REGION/
  --region REGION       the region whose digests to fetch (the log files' region)
  --org-id O-ID         organisation trail: its organisation id (o-...)
  --key-prefix P        the trail's S3 key prefix, if it has one
  --home-region REGION  the trail's home region, where its keys are listed
                        (default: --region, else the CLI's region)
  --start-time T        only digests ending at or after T (e.g. 2026-02-01T00:00:00Z);
                        also the keys' StartTime (without it, list-public-keys returns
                        only the current key)
  --end-time T          only digests ending at or before T; the keys' EndTime
  --no-public-keys      fetch the digests and signatures only
  -h, --help            this text

Uses the AWS CLI with its usual credentials, profile and region settings
(AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL...). Needs s3:ListBucket, s3:GetObject and
cloudtrail:ListPublicKeys.
EOF
}

bucket="" out="" prefix="" account="" region="" org_id="" key_prefix=""
home_region="" start_time="" end_time="" public_keys=yes
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --bucket) bucket="${2:?--bucket needs a value}"; shift 2 ;;
        --out) out="${2:?--out needs a value}"; shift 2 ;;
        --prefix) prefix="${2:?--prefix needs a value}"; shift 2 ;;
        --account) account="${2:?--account needs a value}"; shift 2 ;;
        --region) region="${2:?--region needs a value}"; shift 2 ;;
        --org-id) org_id="${2:?--org-id needs a value}"; shift 2 ;;
        --key-prefix) key_prefix="${2:?--key-prefix needs a value}"; shift 2 ;;
        --home-region) home_region="${2:?--home-region needs a value}"; shift 2 ;;
        --start-time) start_time="${2:?--start-time needs a value}"; shift 2 ;;
        --end-time) end_time="${2:?--end-time needs a value}"; shift 2 ;;
        --no-public-keys) public_keys=no; shift ;;
        *) echo "fetch-digest-signatures.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

fail() { echo "fetch-digest-signatures.sh: $*" >&2; exit 2; }
[ -n "$bucket" ] || fail "--bucket is required (see --help)"
[ -n "$out" ] || fail "--out is required (see --help)"
if [ -z "$prefix" ]; then
    [ -n "$account" ] && [ -n "$region" ] || fail "give --prefix, or --account and --region"
    prefix="AWSLogs/${org_id:+$org_id/}$account/CloudTrail-Digest/$region/"
    [ -z "$key_prefix" ] || prefix="${key_prefix%/}/$prefix"
fi
command -v aws >/dev/null 2>&1 || fail "the AWS CLI (aws) is not on PATH"

# YYYYMMDDTHHMMSSZ of an RFC 3339 time, as digest file names carry it.
stamp() { printf '%s' "$1" | sed -E 's/[.][0-9]+//; s/[+]00:00$/Z/' | tr -d ':-'; }
from_stamp="" to_stamp=""
[ -z "$start_time" ] || from_stamp="$(stamp "$start_time")"
[ -z "$end_time" ] || to_stamp="$(stamp "$end_time")"

bucket_dir="$out/cloudtrail"
mkdir -p "$bucket_dir"
keys_file="$(mktemp)"
trap 'rm -f "$keys_file"' EXIT

aws s3api list-objects-v2 --bucket "$bucket" --prefix "$prefix" \
    --query 'Contents[].Key' --output text | tr '\t' '\n' |
    grep -E '_CloudTrail-Digest_.*[.]json[.]gz$' >"$keys_file" || true

count=0
while IFS= read -r key; do
    [ -n "$key" ] || continue
    name="${key##*/}"
    name="${name%.json.gz}"
    name="${name%_backfill}"
    digest_stamp="${name##*_}"
    if [ -n "$from_stamp" ] && [[ "$digest_stamp" < "$from_stamp" ]]; then continue; fi
    if [ -n "$to_stamp" ] && [[ "$digest_stamp" > "$to_stamp" ]]; then continue; fi
    mkdir -p "$bucket_dir/$(dirname "$key")"
    aws s3api get-object --bucket "$bucket" --key "$key" "$bucket_dir/$key" >/dev/null
    aws s3api head-object --bucket "$bucket" --key "$key" >"$bucket_dir/$key.metadata.json"
    count=$((count + 1))
done <"$keys_file"
echo "fetched $count digest files and their signatures under $bucket_dir/$prefix"

[ "$public_keys" = yes ] || exit 0
key_args=()
[ -z "$start_time" ] || key_args+=(--start-time "$start_time")
[ -z "$end_time" ] || key_args+=(--end-time "$end_time")
home_region="${home_region:-$region}"
[ -z "$home_region" ] || key_args+=(--region "$home_region")
aws cloudtrail list-public-keys "${key_args[@]}" --output json >"$out/public-keys.json"
echo "saved the public keys as $out/public-keys.json"
