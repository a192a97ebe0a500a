#!/usr/bin/env bash
# Tests the Go client against a real meshkv-server, and checks that the committed stubs are up to date.
#
#   MESHKV_BIN_DIR=build/bin bash clients/go/run_tests.sh [go test flags...]     e.g. -v -run Watch
#
# Registered with CTest as:
#   add_test(NAME go_client COMMAND bash ${PROJECT_SOURCE_DIR}/clients/go/run_tests.sh)
#   set_tests_properties(go_client PROPERTIES ENVIRONMENT MESHKV_BIN_DIR=${PROJECT_BINARY_DIR}/bin
#                        SKIP_RETURN_CODE 77 TIMEOUT 600)
#
# The first run on a machine downloads the module's dependencies (go mod download, through the Go module proxy) and
# installs the pinned stub generators (clients/go/generate.sh --install-only); later runs are offline: go test always
# runs with GOPROXY=off. Exit status is go test's; 77 means "could not run" (no Go toolchain, or a cold module cache
# and no proxy), for CTest's SKIP_RETURN_CODE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

# shellcheck source=../../scripts/go_test_env.sh
source "$here/../../scripts/go_test_env.sh" go_client
if [ -z "${MESHKV_BIN_DIR:-}" ]; then
  echo "go_client: MESHKV_BIN_DIR is not set: point it at the directory that contains meshkv-server" >&2
  exit 1
fi
# The staleness test regenerates the stubs; without the generators it skips, saying so.
bash ./generate.sh --install-only || echo "go_client: cannot install the stub generators; the staleness check will skip" >&2

# -count=1: never report a cached result; the server binary is not an input go test knows about.
GOPROXY=off go test -count=1 "$@" ./...
