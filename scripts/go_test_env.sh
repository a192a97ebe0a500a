# Sourced by the Go test runners (clients/go/run_tests.sh, tests/k8s/run.sh), from the Go module's
# directory:
#
#   source "$root/scripts/go_test_env.sh" NAME     # NAME: the CTest name, for messages
#
# Puts a Go toolchain on PATH, keeps go from using a go.work above the module or downloading a
# toolchain, and makes sure the module's dependencies are in the module cache, downloading them once
# through the Go module proxy; the tests themselves then run with GOPROXY=off. Exits 77 (CTest's
# SKIP_RETURN_CODE) saying why when it cannot: no Go toolchain, or a cold module cache and no proxy.
meshkv_go_test="$1"

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
  else
    echo "$meshkv_go_test: SKIPPED: no Go toolchain (go not in PATH, nor /usr/local/go/bin/go)" >&2
    exit 77
  fi
fi

export GOWORK=off        # this module stands alone, whatever go.work may exist above it
export GOTOOLCHAIN=local # never download a toolchain
if [ -z "$(go env GOCACHE 2>/dev/null)" ]; then # e.g. no HOME under some CI runners
  export GOCACHE="${TMPDIR:-/tmp}/meshkv-$meshkv_go_test-gocache"
fi

# Are all dependencies already in the module cache? (offline check)
if ! GOPROXY=off go list -deps -test ./... >/dev/null 2>&1; then
  echo "$meshkv_go_test: first run: downloading Go modules into $(go env GOMODCACHE) ..." >&2
  if ! go mod download; then
    echo "$meshkv_go_test: SKIPPED: modules are not cached and cannot be downloaded (GOPROXY=$(go env GOPROXY))" >&2
    exit 77
  fi
fi
