#!/usr/bin/env bash
# Integration test: the Debian `prometheus` server scraping a real 3-node meshkv cluster, checked
# through Prometheus' HTTP API (tests/prometheus/cluster_test.py says what is asserted).
#
#   MESHKV_BIN_DIR=build/bin bash tests/prometheus/run.sh
#
# Registered with CTest (tests/CMakeLists.txt) as test `prometheus_cluster`. Needs meshkv-server
# and meshkv in $MESHKV_BIN_DIR, /usr/bin/python3 (standard library only), and prometheus: found
# on PATH or at /usr/bin/prometheus, else installed with apt-get (see lib.sh); $PROMETHEUS names
# another binary. Exit status: 0 passed; 1 failed; 77 prometheus is missing and cannot be
# installed (MESHKV_REQUIRE_PROMETHEUS=1 turns that into a failure).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

if [ -z "${MESHKV_BIN_DIR:-}" ]; then
  echo "prometheus_cluster: MESHKV_BIN_DIR is not set: point it at the directory with meshkv-server" >&2
  exit 1
fi
for bin in meshkv-server meshkv; do
  if [ ! -x "$MESHKV_BIN_DIR/$bin" ]; then
    echo "prometheus_cluster: MESHKV_BIN_DIR=$MESHKV_BIN_DIR: no executable $bin there" >&2
    exit 1
  fi
done
python=/usr/bin/python3
if [ ! -x "$python" ]; then
  echo "prometheus_cluster: $python is missing (apt-get install python3-minimal)" >&2
  exit 1
fi

status=0
PROMETHEUS="$(prometheus_tool prometheus)" || status=$?
if [ "$status" -ne 0 ]; then exit "$status"; fi
export PROMETHEUS
echo "prometheus_cluster: $("$PROMETHEUS" --version 2>&1 | head -1)"

# exec: the test's children die with it (PR_SET_PDEATHSIG), even if CTest kills it on a timeout.
exec "$python" "$here/cluster_test.py"
