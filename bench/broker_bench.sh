#!/usr/bin/env bash
# The broker's speed (BENCHMARKS.md "Broker"): overhead per request, cold and warm start,
# the client's time to the plugin. Builds the release binaries, then runs
# broker-lambda/examples/broker_bench.rs against the loopback stand-in (python3 with
# botocore: pip install 'moto[server]==5.2.1' brings it). --quick: a tenth of the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sessiontrail/target}"
cargo build --quiet --release -p sessiontrail-broker-lambda -p sessiontrail-connect --bins --example broker_bench
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$CARGO_TARGET_DIR/release/examples/broker_bench" "$CARGO_TARGET_DIR/release" "$@"
