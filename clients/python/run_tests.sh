#!/usr/bin/env bash
# Tests the Python client against a real meshkv-server: generates the stubs into a temporary directory (they are not
# committed), then runs test_client.py (unittest) with Debian's /usr/bin/python3 and its python3-grpcio.
#
#   MESHKV_BIN_DIR=build/bin bash clients/python/run_tests.sh [unittest args...]    e.g. -v WatchTest
#
# Registered with CTest as:
#   add_test(NAME python_client COMMAND bash ${PROJECT_SOURCE_DIR}/clients/python/run_tests.sh)
#   set_tests_properties(python_client PROPERTIES ENVIRONMENT MESHKV_BIN_DIR=${PROJECT_BINARY_DIR}/bin
#                        SKIP_RETURN_CODE 77 TIMEOUT 300)
#
# Exit status is the tests'; 77 means "could not run" (no grpc or grpc_tools for $MESHKV_PYTHON, default
# /usr/bin/python3), for CTest's SKIP_RETURN_CODE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${MESHKV_PYTHON:-/usr/bin/python3}"
export MESHKV_PYTHON="$python"

if [ -z "${MESHKV_BIN_DIR:-}" ]; then
  echo "python_client: MESHKV_BIN_DIR is not set: point it at the directory that contains meshkv-server" >&2
  exit 1
fi
if ! "$python" -c 'import grpc, grpc_tools.protoc' 2>/dev/null; then
  echo "python_client: SKIPPED: $python lacks grpc or grpc_tools (apt-get install python3-grpcio python3-grpc-tools)" >&2
  exit 77
fi

stubs="$(mktemp -d "${TMPDIR:-/tmp}/meshkv-py-stubs.XXXXXX")"
trap 'rm -rf "$stubs"' EXIT
bash "$here/generate.sh" "$stubs"

# -B / PYTHONDONTWRITEBYTECODE: leave no __pycache__ in the source tree. test_client.py stops every server it started
# on any exit, SIGTERM and SIGINT included (forwarded from here); its servers die with it even on SIGKILL (setpriv).
cd "$here"
PYTHONPATH="$stubs" PYTHONDONTWRITEBYTECODE=1 "$python" -B test_client.py "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' TERM INT
status=0
wait "$pid" || status=$?
if kill -0 "$pid" 2>/dev/null; then # wait was interrupted by a signal: let the tests clean up, then report
  status=0
  wait "$pid" || status=$?
fi
exit "$status"
