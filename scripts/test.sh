#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (CTest). Exits
# non-zero when any test fails.
#
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         only tests with a label (unit, service,
#                                   process, sim, netns, clients, compose, ...)
#   scripts/test.sh -R store        only tests whose name matches
# Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
build="${MESHKV_BUILD_DIR:-build}"
cd "$build"
ctest --output-on-failure --timeout 1200 "$@"
