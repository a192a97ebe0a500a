#!/usr/bin/env bash
# Regenerates every benchmark figure, table and plot with one command:
#
#   scripts/bench/run.sh              # full comparison (about 30 minutes)
#   scripts/bench/run.sh --quick      # a couple of minutes, to check the machinery
#   scripts/bench/run.sh --durability # only durability.py: data directory vs in memory
#                                     # vs etcd, and recovery of 1M keys (~15 minutes)
#   scripts/bench/run.sh --tls        # only tls.py: TLS on vs off, meshkv and etcd (~10 min)
#
# Builds meshkv-server, meshkv-bench and meshkv-bench-baseline (Release) in
# build-bench/, installs gnuplot if it is missing and apt-get can, runs
# compare.py (meshkv vs etcd vs the no-op ceiling) and profile.py (perf hot
# spots of meshkv-server), then renders docs/benchmarks.md from
# scripts/bench/benchmarks.md.in. Results: scripts/bench/results/ (results.md,
# results.json, *.png, profile_*.txt). Arguments go to compare.py.
# Environment: BUILD_DIR, OUT_DIR, PROFILE=0 to skip profiling, FROM_HEAD=1 to
# build the committed HEAD (exported to a temporary directory) rather than the
# working tree, which others may be changing.
set -euo pipefail

ONLY=""
case "${1:-}" in
  --durability) ONLY=durability; shift ;;
  --tls) ONLY=tls; shift ;;
esac

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT_DIR:-$ROOT/scripts/bench/results}
SRC=$ROOT
if [ "${FROM_HEAD:-0}" = 1 ]; then
  SRC=$(mktemp -d /tmp/meshkv-head.XXXXXX)
  trap 'rm -rf "$SRC"' EXIT
  git -C "$ROOT" archive HEAD | tar -x -C "$SRC"
  BUILD=${BUILD_DIR:-$ROOT/build-bench-head}
  # The build directory remembers its source directory: start afresh.
  rm -f "$BUILD/CMakeCache.txt"
else
  BUILD=${BUILD_DIR:-$ROOT/build-bench}
fi

if ! command -v gnuplot >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y gnuplot-nox >/dev/null || { apt-get update >/dev/null && apt-get install -y gnuplot-nox >/dev/null; } ||
      echo "run.sh: could not install gnuplot-nox: no plots" >&2
  else
    echo "run.sh: gnuplot missing (apt-get install gnuplot-nox): no plots" >&2
  fi
fi
command -v etcd >/dev/null || { echo "run.sh: etcd missing (apt-get install etcd-server)" >&2; exit 1; }

cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMESHKV_BUILD_TESTS=OFF >/dev/null
ninja -C "$BUILD" meshkv-server meshkv-bench meshkv-bench-baseline

mkdir -p "$OUT"
if [ -n "$ONLY" ]; then
  # Its own files (durability.md/.json, tls.md/.json): the comparison's stay.
  /usr/bin/python3 "$ROOT/scripts/bench/$ONLY.py" --bin-dir "$BUILD/bin" --out "$OUT" "$@"
  if [ "$OUT" = "$ROOT/scripts/bench/results" ]; then
    /usr/bin/python3 "$ROOT/scripts/bench/render_doc.py" --results "$OUT"
  fi
  echo "results in $OUT"
  exit 0
fi
{
  echo "commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
  if [ "$SRC" = "$ROOT" ]; then
    echo "built from the working tree; files with uncommitted changes: $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | wc -l)"
  else
    echo "built from the commit above (git archive), not the working tree"
  fi
} >"$OUT/build_info.txt"

/usr/bin/python3 "$ROOT/scripts/bench/compare.py" --bin-dir "$BUILD/bin" --out "$OUT" "$@"
if [ "${PROFILE:-1}" = 1 ]; then
  /usr/bin/python3 "$ROOT/scripts/bench/profile.py" --bin-dir "$BUILD/bin" --out "$OUT"
fi
if [ "$OUT" = "$ROOT/scripts/bench/results" ]; then
  /usr/bin/python3 "$ROOT/scripts/bench/render_doc.py" --results "$OUT"
fi
echo "results in $OUT"
