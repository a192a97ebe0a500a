#!/usr/bin/env bash
# Installs what meshkv needs (only what is missing), then configures and
# builds it in build/. Idempotent: a second run with nothing changed takes
# about a second.
#
#   scripts/setup.sh            runtime and build dependencies, all targets
#   scripts/setup.sh --test     also what the tests use (Prometheus, Python gRPC, ...)
#   scripts/setup.sh --bench    also what the benchmarks use (etcd, plotting)
#   MESHKV_BUILD_DIR=dir        build somewhere else (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(build-essential cmake ninja-build pkg-config zlib1g-dev
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev libasio-dev libbenchmark-dev
  libssl-dev openssl librocksdb-dev libleveldb-dev)
test_pkgs=(prometheus python3-grpcio python3-grpc-tools iproute2 iptables curl
  debootstrap ca-certificates git)
bench_pkgs=(etcd-server etcd-client gnuplot-nox valgrind)

want=("${build_pkgs[@]}")
targets=()
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test_pkgs[@]}") ;;
    --bench) want+=("${bench_pkgs[@]}") ;;
    --target=*) targets+=("${arg#--target=}") ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  # Packages such as prometheus start a service on install where an init
  # system runs one; meshkv's tests start their own instances.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build="${MESHKV_BUILD_DIR:-build}"
if [ ! -f "$build/build.ninja" ]; then
  echo "== configuring $build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
echo "== building $build"
# Two jobs: each gRPC translation unit needs about 1 GB to compile.
ninja -C "$build" -j "${MESHKV_JOBS:-$(nproc)}" "${targets[@]}"
