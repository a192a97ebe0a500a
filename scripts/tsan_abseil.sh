#!/usr/bin/env bash
# Builds Debian's own Abseil source (the version libabsl-dev has, with
# Debian's patches, so the library names and ABI are the ones Debian's gRPC
# was linked against) with clang-14 -fsanitize=thread, installed into
# build-tsan-abseil/. The TSan build (scripts/setup.sh --sanitize=thread,
# folder build-tsan) finds it through CMAKE_PREFIX_PATH and loads it through
# DT_RPATH, so absl::Mutex, which gRPC locks with too, is instrumented.
#
# apt-get runs with its own sources list, lists and cache below
# build-tsan-abseil/src/, so the system's apt state is not touched.
# Idempotent: nothing happens when the installed build matches the version.
#
#   scripts/tsan_abseil.sh          MESHKV_JOBS=n: build jobs (default nproc)
set -euo pipefail
cd "$(dirname "$0")/.."

prefix="$PWD/build-tsan-abseil"
work="$prefix/src"
pkg="$(dpkg-query -W -f='${source:Package}' libabsl-dev)"
version="$(dpkg-query -W -f='${source:Version}' libabsl-dev)"
stamp="$prefix/.built-$pkg-$version"
if [ -f "$stamp" ]; then
  exit 0
fi
echo "== TSan Abseil: $pkg $version into $prefix"

# Debian's source for the installed version: deb-src lines for the suites
# the system's own binary packages come from.
apt_dir="$work/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$apt_dir/sources.list" <<EOF
deb-src [signed-by=$keyring] http://deb.debian.org/debian bookworm main
deb-src [signed-by=$keyring] http://deb.debian.org/debian bookworm-updates main
deb-src [signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main
EOF
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "Dir::State::status=/var/lib/dpkg/status"
  -o "APT::Sandbox::User=root"
  -o "Debug::NoLocking=1"
)
apt-get "${apt_opts[@]}" -q update
rm -rf "$work/source"
mkdir -p "$work/source"
(cd "$work/source" && apt-get "${apt_opts[@]}" -q source "$pkg=$version")
src="$(find "$work/source" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
[ -f "$src/CMakeLists.txt" ] || { echo "tsan_abseil.sh: no source tree in $work/source" >&2; exit 1; }

# Shared libraries, C++17 and the default options, as debian/rules builds
# them (see $src/debian/rules), plus the thread sanitizer.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S "$src" -B "$work/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 "${launcher[@]}" \
  "-DCMAKE_C_FLAGS=-fsanitize=thread -fno-omit-frame-pointer" \
  "-DCMAKE_CXX_FLAGS=-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
  -DCMAKE_CXX_STANDARD=17 -DABSL_PROPAGATE_CXX_STD=ON \
  -DBUILD_SHARED_LIBS=ON -DBUILD_TESTING=OFF -DABSL_BUILD_TESTING=OFF \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib
ninja -C "$work/build" -j "${MESHKV_JOBS:-$(nproc)}" install

# The library names must be Debian's, or gRPC would still load Debian's copy.
want="$(basename "$(readlink -f /usr/lib/x86_64-linux-gnu/libabsl_synchronization.so)")"
if [ ! -e "$prefix/lib/$want" ]; then
  echo "tsan_abseil.sh: $prefix/lib has no $want (Debian's name); gRPC would load Debian's Abseil" >&2
  exit 1
fi
rm -f "$prefix"/.built-*
touch "$stamp"
