#!/usr/bin/env bash
# Installs what meshkv needs (only what is missing), then configures and
# builds it in build/. Idempotent: a second run with nothing changed takes
# about a second, and runs no apt at all (every package is checked with
# dpkg-query first; apt-get runs only for the missing ones).
#
#   scripts/setup.sh            runtime and build dependencies, all targets
#   scripts/setup.sh --test     also what the tests use (Prometheus, Python gRPC,
#                               clang-14 and its sanitizer runtimes, ...), and
#                               builds with warnings as errors (MESHKV_WERROR)
#   scripts/setup.sh --bench    also what the benchmarks use (etcd, plotting)
#   scripts/setup.sh --sanitize=address
#                               ASan+UBSan build with clang-14 in build-asan/
#   scripts/setup.sh --sanitize=thread
#                               TSan build with clang-14 in build-tsan/, against
#                               an Abseil built with TSan (scripts/tsan_abseil.sh)
#   --target=name               build only that target (repeatable)
#   MESHKV_BUILD_DIR=dir        build somewhere else (default: build, or
#                               build-asan / build-tsan with --sanitize)
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(build-essential cmake ninja-build pkg-config zlib1g-dev ccache
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev libasio-dev libbenchmark-dev
  libssl-dev openssl librocksdb-dev libleveldb-dev)
# clang-14: the sanitizer builds and the thread-safety analysis; llvm-14:
# llvm-symbolizer for readable sanitizer reports; dpkg-dev and xz-utils:
# apt-get source (scripts/tsan_abseil.sh).
# python3-pip, -setuptools, -venv: clients/python/run_tests.sh pip-installs the package offline into a venv.
test_pkgs=(prometheus python3-grpcio python3-grpc-tools python3-pip python3-setuptools python3-venv
  iproute2 iptables curl
  debootstrap ca-certificates git
  clang-14 libclang-rt-14-dev llvm-14 dpkg-dev xz-utils)
bench_pkgs=(etcd-server etcd-client gnuplot-nox valgrind)

want=("${build_pkgs[@]}")
# MESHKV_BUILD_TARGETS (space-separated): build only these; default every target.
read -r -a targets <<< "${MESHKV_BUILD_TARGETS:-}"
sanitize=""
werror=0
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test_pkgs[@]}"); werror=1 ;;
    --bench) want+=("${bench_pkgs[@]}") ;;
    --sanitize=address|--sanitize=thread)
      sanitize="${arg#--sanitize=}"
      want+=("${test_pkgs[@]}")
      werror=1 ;;
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

# The options this build needs. Options not named here keep whatever the
# build folder has (scripts/run.sh does not turn -Werror off again).
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
first_args=()  # only when the folder is configured the first time
if command -v ccache >/dev/null; then
  cmake_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths below the checkout are hashed relative to it. With -g ccache also
  # hashes the build folder, so a folder rebuilt from scratch hits the cache,
  # a differently named one does not.
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
fi
((werror)) && cmake_args+=(-DMESHKV_WERROR=ON)
case "$sanitize" in
  address)
    default_build=build-asan
    first_args+=(-DCMAKE_CXX_COMPILER=clang++-14)
    cmake_args+=(-DMESHKV_SANITIZE=address) ;;
  thread)
    default_build=build-tsan
    # Debian's Abseil is not built with TSan: build one that is, and load it
    # instead of Debian's. DT_RPATH (--disable-new-dtags), unlike DT_RUNPATH,
    # also applies to the libraries our binaries load, so Debian's gRPC gets
    # the instrumented Abseil too.
    scripts/tsan_abseil.sh
    absl_prefix="$PWD/build-tsan-abseil"
    first_args+=(-DCMAKE_CXX_COMPILER=clang++-14)
    cmake_args+=(-DMESHKV_SANITIZE=thread
      "-DCMAKE_PREFIX_PATH=$absl_prefix"
      "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags,-rpath,$absl_prefix/lib"
      "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,--disable-new-dtags,-rpath,$absl_prefix/lib") ;;
  *) default_build=build ;;
esac

build="${MESHKV_BUILD_DIR:-$default_build}"
# The value of a cache entry of $build, or nothing.
cached() { sed -n "s|^$1:[A-Z]*=||p" "$build/CMakeCache.txt" 2>/dev/null; }
# Configure when the folder is new or one of cmake_args differs from its cache.
configure=0
if [ ! -f "$build/build.ninja" ]; then
  configure=1
  cmake_args+=("${first_args[@]}")
fi
for a in "${cmake_args[@]}"; do
  kv="${a#-D}"
  [ "$(cached "${kv%%=*}")" = "${kv#*=}" ] || configure=1
done
if ((configure)); then
  echo "== configuring $build"
  cmake -S . -B "$build" -G Ninja "${cmake_args[@]}"
fi
echo "== building $build"
# Two jobs: each gRPC translation unit needs about 1 GB to compile.
ninja -C "$build" -j "${MESHKV_JOBS:-$(nproc)}" "${targets[@]}"
