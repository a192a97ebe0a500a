#!/usr/bin/env bash
# Validates the Kubernetes manifests in deploy/k8s (strict decoding into the Kubernetes API types + semantic checks).
#
#   bash tests/k8s/run.sh [go test flags...]      e.g. bash tests/k8s/run.sh -v -run Seeds
#
# Registered with CTest as:
#   add_test(NAME k8s_manifests COMMAND bash ${CMAKE_SOURCE_DIR}/tests/k8s/run.sh)
#
# The tests themselves never use the network: they always run with GOPROXY=off. The first run on a machine whose Go
# module cache lacks this module's dependencies downloads them once (go mod download, through the Go module proxy);
# every later run is offline. Exit status is go test's; 77 means "could not run" (no Go toolchain, or a cold module
# cache and no proxy) so that CTest can report it as skipped with SKIP_RETURN_CODE 77.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
  else
    echo "k8s_manifests: SKIPPED: no Go toolchain (go not in PATH, nor /usr/local/go/bin/go)" >&2
    exit 77
  fi
fi

export GOWORK=off        # this module stands alone, whatever go.work may exist above it
export GOTOOLCHAIN=local # never download a toolchain
case " ${GOFLAGS:-} " in
  *" -mod="*) ;;
  *) export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" ;;
esac
if [ -z "$(go env GOCACHE 2>/dev/null)" ]; then # e.g. no HOME under some CI runners
  export GOCACHE="${TMPDIR:-/tmp}/meshkv-k8s-gocache"
fi

# Are all dependencies already in the module cache? (offline check)
if ! GOPROXY=off go list -deps -test ./... >/dev/null 2>&1; then
  echo "k8s_manifests: first run: downloading Go modules into $(go env GOMODCACHE) ..." >&2
  if ! go mod download; then
    echo "k8s_manifests: SKIPPED: modules are not cached and cannot be downloaded (GOPROXY=$(go env GOPROXY))" >&2
    exit 77
  fi
fi

# -count=1: never report a cached result; the manifests are read at run time.
GOPROXY=off go test -count=1 "$@" ./...
