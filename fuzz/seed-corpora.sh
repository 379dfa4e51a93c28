#!/usr/bin/env bash
# Seeds the fuzz corpora from the fixtures and the real samples (decompressed, so the
# fuzzer mutates JSON, not gzip). Usage: fuzz/seed-corpora.sh
set -euo pipefail
cd "$(dirname "$0")"
rm -rf corpus && mkdir -p corpus/cloudtrail_reader corpus/broker_log_reader corpus/arn corpus/policy corpus/evidence
n=0
add() { # add TARGET FILE
    n=$((n + 1))
    if [[ $2 == *.gz ]]; then zcat -f "$2" > "corpus/$1/seed-$n" 2>/dev/null || true; else cp "$2" "corpus/$1/seed-$n"; fi
}
for f in $(find ../fixtures/cases -path '*/cloudtrail/*' -type f | sort); do add cloudtrail_reader "$f"; done
for f in $(find ../fixtures/generated/cloudtrail -name '*.json.gz' | sort | head -40); do add cloudtrail_reader "$f"; done
if [ -d ../../shared/corpus/real ]; then
    for f in $(find ../../shared/corpus/real -name '*.json' | sort); do add cloudtrail_reader "$f"; done
fi
for f in $(find ../fixtures/cases -path '*/broker/*' -type f | sort) $(find ../fixtures/generated/broker -type f | sort); do
    add broker_log_reader "$f"
done
grep -rhoa 'arn:[A-Za-z0-9_+=,.@/:-]*' ../fixtures/cases | sort -u | head -300 | while read -r arn; do
    n=$((n + 1)); printf '%s' "$arn" > "corpus/arn/seed-$n"
done
for f in $(find ../fixtures -name "*.toml" | sort); do add policy "$f"; done
for f in $(find ../crates/evidence/tests/data -type f \( -name '*.json' -o -name '*.json.gz' \) | sort); do add evidence "$f"; done
for t in corpus/*; do echo "$t: $(ls "$t" | wc -l) seeds"; done
