#!/usr/bin/env bash
# Instructions per Set of one in-memory node, counted by callgrind: a figure
# that does not move with the load of a shared machine, for comparing two
# builds where the CPU-per-request ratios of ab.py are too noisy.
#
#   scripts/bench/set_instructions.sh BIN_DIR [N] [-- server flags]
#   scripts/bench/set_instructions.sh build-bench/bin 2000 -- --insecure
#   scripts/bench/set_instructions.sh /old/build-bench/bin 2000   # a build before --insecure
#
# Starts BIN_DIR/meshkv-server under valgrind --tool=callgrind with
# instrumentation off, writes N Sets of 100-byte values to 1000 keys (so the
# measured Sets overwrite, the steady state), then counts the next N Sets (one
# connection, one in flight, so each request is handled alone) and prints the
# server's instructions per Set. The profile is left in OUT (default
# /tmp/set_instructions.<pid>) for callgrind_annotate --inclusive=yes.
# Environment: BENCH_BIN (meshkv-bench; default BIN_DIR's), OUT, CONNECTIONS (1), INFLIGHT
# (per connection, 1).
# Instructions are user-space only: system calls and thread wake-ups cost
# kernel time this does not see (perf stat -e task-clock,context-switches).
set -euo pipefail

BIN=$(cd "$1" && pwd)
N=${2:-2000}
shift $(($# < 2 ? $# : 2))
[ "${1:-}" = -- ] && shift
BENCH=${BENCH_BIN:-$BIN}/meshkv-bench
INFLIGHT=${INFLIGHT:-1}
CONNECTIONS=${CONNECTIONS:-1}
WORK=$(mktemp -d /tmp/set_instructions.XXXXXX)
OUT=${OUT:-$WORK/callgrind.out}
trap 'kill "$VG" 2>/dev/null || true; rm -f "$WORK"/info.json "$WORK"/*.json' EXIT

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" \
  "$BIN/meshkv-server" --grpc-addr=127.0.0.1:0 --mesh-addr=127.0.0.1:0 --metrics-addr=127.0.0.1:0 \
  --info-file="$WORK/info.json" --log-level=warning "$@" >"$WORK/server.log" 2>&1 &
VG=$!
for _ in $(seq 1 1200); do
  [ -s "$WORK/info.json" ] && break
  kill -0 "$VG" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done
ADDR=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['grpc'])" "$WORK/info.json")
"$BENCH" --workload=wait-serving --addr="$ADDR" --timeout=300s --quiet --json=/dev/null

sets() {  # sets SEED: N Sets, one connection
  "$BENCH" --target=meshkv --addr="$ADDR" --workload=set --connections="$CONNECTIONS" --inflight="$INFLIGHT" \
    --requests="$N" --warmup=0s --keyspace=1000 --value-size=100 --seed="$1" --quiet \
    --json="$WORK/sets.json"
}
sets 7
callgrind_control -i on "$VG" >/dev/null 2>&1
sets 1
callgrind_control -d "$VG" >/dev/null 2>&1  # writes $OUT.1
kill "$VG"
wait "$VG" || true
PROFILE=$OUT.1  # the dump above; $OUT itself holds the shutdown
TOTAL=$(callgrind_annotate "$PROFILE" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "$PROFILE: $TOTAL instructions, $((TOTAL / N)) per Set ($N Sets, $CONNECTIONS x $INFLIGHT in flight)"
