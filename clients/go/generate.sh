#!/usr/bin/env bash
# Regenerates the Go stubs for proto/meshkv/v1/*.proto.
#
#   bash clients/go/generate.sh                 rewrite clients/go/meshkvpb/*.pb.go (they are committed)
#   bash clients/go/generate.sh OUT_DIR         write OUT_DIR/*.pb.go instead (the staleness test does this)
#   bash clients/go/generate.sh --install-only  only make sure the pinned generators are installed
#
# The generators are installed with `go install` at the versions pinned below, each into its own directory
# ($MESHKV_GO_TOOLS, default $(go env GOPATH)/meshkv-tools) so that whatever else sits in ~/go/bin never leaks
# in; later runs reuse them and need no network. protoc is Debian's (/usr/bin/protoc, 3.21.12).
# protoc-gen-go's version must equal google.golang.org/protobuf's in go.mod (the staleness test checks it).
#
# Exit status: 0 done; 77 the generators (or protoc) are missing and cannot be installed; anything else an error.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12      # google.golang.org/protobuf/cmd/protoc-gen-go
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2   # google.golang.org/grpc/cmd/protoc-gen-go-grpc

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

install_only=false
out="$here/meshkvpb"
case "${1:-}" in
  --install-only) install_only=true ;;
  "") ;;
  -*) echo "usage: $0 [OUT_DIR | --install-only]" >&2; exit 2 ;;
  *) out="$1" ;;
esac

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; else
    echo "generate.sh: cannot install the generators: no Go toolchain" >&2; exit 77
  fi
fi
export GOWORK=off GOTOOLCHAIN=local
tools="${MESHKV_GO_TOOLS:-$(go env GOPATH)/meshkv-tools}"

# install NAME PACKAGE VERSION: prints the path of the installed binary.
install() {
  local name="$1" pkg="$2" version="$3"
  local dir="$tools/$name-$version"
  if [ ! -x "$dir/$name" ]; then
    echo "generate.sh: installing $pkg@$version into $dir" >&2
    if ! (cd / && GOBIN="$dir" go install "$pkg@$version") >&2; then
      echo "generate.sh: cannot install $pkg@$version (offline and not in the module cache?)" >&2
      return 77
    fi
  fi
  echo "$dir/$name"
}

gen_go="$(install protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION")" || exit 77
gen_grpc="$(install protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION")" || exit 77
$install_only && exit 0

protoc="${PROTOC:-/usr/bin/protoc}"
if [ ! -x "$protoc" ]; then
  echo "generate.sh: no protoc at $protoc (apt-get install protobuf-compiler, or set PROTOC)" >&2
  exit 77
fi

# Generate into a scratch directory and move the files into place, so that a failure never leaves half a package.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
module=github.com/meshkv/meshkv/clients/go
"$protoc" -I "$repo/proto" \
  --plugin=protoc-gen-go="$gen_go" --plugin=protoc-gen-go-grpc="$gen_grpc" \
  --go_out="$scratch" --go_opt=module="$module" \
  --go-grpc_out="$scratch" --go-grpc_opt=module="$module" \
  meshkv/v1/kv.proto meshkv/v1/cluster.proto meshkv/v1/maintenance.proto
mkdir -p "$out"
rm -f "$out"/*.pb.go
mv "$scratch"/meshkvpb/*.pb.go "$out"/
