#!/usr/bin/env bash
# Generates the Python stubs for proto/meshkv/v1/*.proto into OUT_DIR (they are not committed).
#
#   bash clients/python/generate.sh OUT_DIR
#   PYTHONPATH=OUT_DIR /usr/bin/python3 clients/python/example.py --addr=127.0.0.1:50051
#
# Produces OUT_DIR/meshkv/v1/{kv,cluster}_pb2.py, *_pb2_grpc.py, importable as `from meshkv.v1 import
# kv_pb2, kv_pb2_grpc`. Uses Debian's grpc_tools (python3-grpc-tools) through /usr/bin/python3: the python3 found
# on PATH may be another installation without grpc. Override with MESHKV_PYTHON.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${MESHKV_PYTHON:-/usr/bin/python3}"
out="$1"

if ! "$python" -c 'import grpc_tools.protoc' 2>/dev/null; then
  echo "generate.sh: $python has no grpc_tools (apt-get install python3-grpc-tools)" >&2
  exit 77
fi
mkdir -p "$out"
"$python" -m grpc_tools.protoc -I "$repo/proto" \
  --python_out="$out" --grpc_python_out="$out" \
  meshkv/v1/kv.proto meshkv/v1/cluster.proto
# Regular packages, so that no other `meshkv` on sys.path can shadow or merge with these.
touch "$out/meshkv/__init__.py" "$out/meshkv/v1/__init__.py"
