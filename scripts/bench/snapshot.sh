#!/usr/bin/env bash
# Measures `meshkv snapshot save` and `restore` for N keys (default 1M; 15-byte keys, 100-byte values)
# on real processes: file size, times, RSS. The numbers of docs/design.md, "Backup and restore".
#
#   bash scripts/bench/snapshot.sh [N]      (MESHKV_BIN_DIR: where meshkv and meshkv-server are)
#
# Two plaintext nodes on loopback ports 47051/47444/47464 and 48051/48444/48464 (a benchmark, not a test:
# run it alone).
set -euo pipefail
bin="${MESHKV_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}"
n=${1:-1000000}
work=$(mktemp -d /tmp/meshkv-snapmeasure.XXXXXX)
start_node() {  # name grpc_port mesh_port metrics_port
  "$bin/meshkv-server" --insecure --node-id="$1" --grpc-addr=127.0.0.1:$2 --mesh-addr=127.0.0.1:$3 \
    --metrics-addr=127.0.0.1:$4 >"$work/$1.log" 2>&1 &
  echo $! >"$work/$1.pid"
  for _ in $(seq 100); do "$bin/meshkv" --addr 127.0.0.1:$2 health >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "node $1 did not come up" >&2; cat "$work/$1.log" >&2; exit 1
}
start_node src 47051 47444 47464
val=$(printf 'v%.0s' $(seq 100))
t0=$(date +%s.%N)
python3 - "$n" "$val" "$bin" <<'PY'
import subprocess, sys
n = int(sys.argv[1]); val = sys.argv[2]
for b in range(0, n, 2000):
    args = [sys.argv[3] + "/meshkv", "--addr", "127.0.0.1:47051", "--timeout", "60s", "update"]
    args += ["key%012d=%s" % (i, val) for i in range(b, min(n, b + 2000))]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
PY
t1=$(date +%s.%N)
echo "loaded $n keys in $(echo "$t1 - $t0" | bc) s"
rss=$(awk '/VmRSS/ {print $2}' /proc/$(cat "$work/src.pid")/status)
echo "source RSS ${rss} KiB"
/usr/bin/time -f "save: %e s wall, %M KiB max RSS (CLI)" "$bin/meshkv" --addr 127.0.0.1:47051 snapshot save "$work/snap"
ls -l "$work/snap"
start_node dst 48051 48444 48464
/usr/bin/time -f "restore: %e s wall, %M KiB max RSS (CLI)" "$bin/meshkv" --addr 127.0.0.1:48051 snapshot restore "$work/snap"
echo "dst RSS $(awk '/VmRSS/ {print $2}' /proc/$(cat "$work/dst.pid")/status) KiB"
"$bin/meshkv" --addr 127.0.0.1:48051 status | head -3
kill "$(cat "$work/src.pid")" "$(cat "$work/dst.pid")"
rm -rf "$work"
