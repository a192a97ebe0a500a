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

case " ${GOFLAGS:-} " in
  *" -mod="*) ;;
  *) export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" ;;
esac
# shellcheck source=../../scripts/go_test_env.sh
source "$here/../../scripts/go_test_env.sh" k8s_manifests

# -count=1: never report a cached result; the manifests are read at run time.
GOPROXY=off go test -count=1 "$@" ./...
