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

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
  else
    echo "go_client: SKIPPED: no Go toolchain (go not in PATH, nor /usr/local/go/bin/go)" >&2
    exit 77
  fi
fi
if [ -z "${MESHKV_BIN_DIR:-}" ]; then
  echo "go_client: MESHKV_BIN_DIR is not set: point it at the directory that contains meshkv-server" >&2
  exit 1
fi

export GOWORK=off        # this module stands alone, whatever go.work may exist above it
export GOTOOLCHAIN=local # never download a toolchain
if [ -z "$(go env GOCACHE 2>/dev/null)" ]; then # e.g. no HOME under some CI runners
  export GOCACHE="${TMPDIR:-/tmp}/meshkv-go-client-gocache"
fi

# Are all dependencies already in the module cache? (offline check)
if ! GOPROXY=off go list -deps -test ./... >/dev/null 2>&1; then
  echo "go_client: first run: downloading Go modules into $(go env GOMODCACHE) ..." >&2
  if ! go mod download; then
    echo "go_client: SKIPPED: modules are not cached and cannot be downloaded (GOPROXY=$(go env GOPROXY))" >&2
    exit 77
  fi
fi
# The staleness test regenerates the stubs; without the generators it skips, saying so.
bash ./generate.sh --install-only || echo "go_client: cannot install the stub generators; the staleness check will skip" >&2

# -count=1: never report a cached result; the server binary is not an input go test knows about.
GOPROXY=off go test -count=1 "$@" ./...
