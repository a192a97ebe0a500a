#!/usr/bin/env bash
# Installs the meshkv Python package the way a user would, offline, and tests it against a real meshkv-server:
#
#   1. copies clients/python and proto/ to a temporary checkout (pip's in-tree build writes build/ there,
#      not into the source tree),
#   2. makes a virtual environment on Debian's /usr/bin/python3 that sees its packages (--system-site-packages:
#      python3-grpcio, python3-protobuf, python3-grpc-tools, python3-setuptools, python3-pip),
#   3. `pip install --no-index --no-build-isolation` the copy: the stubs are generated from proto/ by the build,
#      the dependencies (grpcio, protobuf) are found installed, nothing is downloaded,
#   4. runs test_client.py (unittest; it loads test_package.py too) with the environment's interpreter, so
#      `import meshkv` is the installed copy (test_package's InstalledTest checks that).
#
#   MESHKV_BIN_DIR=build/bin bash clients/python/run_tests.sh [unittest args...]    e.g. -v WatchResumeTest
#
# Registered with CTest as:
#   add_test(NAME python_client COMMAND bash ${PROJECT_SOURCE_DIR}/clients/python/run_tests.sh)
#   set_tests_properties(python_client PROPERTIES ENVIRONMENT MESHKV_BIN_DIR=${PROJECT_BINARY_DIR}/bin
#                        SKIP_RETURN_CODE 77 TIMEOUT 300)
#
# Exit status is the tests'; 77 means "could not run" ($MESHKV_PYTHON, default /usr/bin/python3, lacks grpc,
# grpc_tools, setuptools, pip or venv), for CTest's SKIP_RETURN_CODE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${MESHKV_PYTHON:-/usr/bin/python3}"

if [ -z "${MESHKV_BIN_DIR:-}" ]; then
  echo "python_client: MESHKV_BIN_DIR is not set: point it at the directory that contains meshkv-server" >&2
  exit 1
fi
if ! "$python" -c 'import grpc, grpc_tools.protoc, setuptools, pip, venv' 2>/dev/null; then
  echo "python_client: SKIPPED: $python lacks grpc, grpc_tools, setuptools, pip or venv" \
    "(apt-get install python3-grpcio python3-grpc-tools python3-setuptools python3-pip python3-venv)" >&2
  exit 77
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/meshkv-py.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/checkout/clients"
cp -r "$repo/proto" "$tmp/checkout/proto"
cp -r "$here" "$tmp/checkout/clients/python"
rm -rf "$tmp/checkout/clients/python/build" "$tmp/checkout/clients/python/src/"*.egg-info

"$python" -m venv --system-site-packages --without-pip "$tmp/venv"
venv_python="$tmp/venv/bin/python"
if ! PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
  "$venv_python" -m pip install -q --no-build-isolation "$tmp/checkout/clients/python" >"$tmp/pip.log" 2>&1; then
  echo "python_client: pip install ./clients/python failed:" >&2
  cat "$tmp/pip.log" >&2
  exit 1
fi
MESHKV_PY_SITE="$("$venv_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
export MESHKV_PY_SITE MESHKV_PYTHON="$venv_python"

# -B / PYTHONDONTWRITEBYTECODE: leave no __pycache__ in the source tree. test_client.py stops every server it started
# on any exit, SIGTERM and SIGINT included (forwarded from here); its servers die with it even on SIGKILL (setpriv).
cd "$here"
PYTHONDONTWRITEBYTECODE=1 "$venv_python" -B test_client.py "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' TERM INT
status=0
wait "$pid" || status=$?
if kill -0 "$pid" 2>/dev/null; then # wait was interrupted by a signal: let the tests clean up, then report
  status=0
  wait "$pid" || status=$?
fi
exit "$status"
