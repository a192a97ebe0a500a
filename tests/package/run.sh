#!/usr/bin/env bash
# The Debian packages, installed and started for real (CTest `package`, label package):
#
#   1. cpack -G DEB in the build directory makes meshkv-server_*.deb and meshkv_*.deb;
#   2. somewhere to install them, with the packages' library dependencies from the mirror:
#        - with a Docker engine, the image meshkv-package-test:systemd, built by tests/package/Dockerfile
#          FROM the local debian:bookworm-slim (the image deploy/docker and the compose test use;
#          scripts/docker-base-image.sh makes it when it is missing, about a minute) plus systemd and
#          the tools; Docker's layer cache keeps it, so a warm run needs no network;
#        - without one (or with MESHKV_PACKAGE_START=exec), a debootstrapped bookworm tree (minbase +
#          systemd), cached in MESHKV_PACKAGE_ROOT; only this path needs debootstrap;
#   3. there: `dpkg -i` of both packages; the postinst made the `meshkv` system user;
#      /etc/default/meshkv is a conffile whose every variable is a flag of `meshkv-server --help`;
#      `systemd-analyze verify` accepts the unit (and refuses a broken copy, so the check is not
#      vacuous), `systemd-analyze security` scores its sandbox below 2.0 (9.2 without it); with
#      certificates made by meshkv-certs the node starts as the meshkv user, answers Health over
#      TLS, stores a key, keeps its data in /var/lib/meshkv/data, survives an upgrade (dpkg -i again:
#      the edited conffile is kept, a running node restarted with its data), and stops with exit 0:
#        - with a Docker engine, the image runs as a container (no network but loopback) with systemd
#          as PID 1, and systemctl enables, starts and stops the unit; the process runs under the
#          unit's seccomp filter and no_new_privs. Docker's default container has no CAP_SYS_ADMIN,
#          so systemd skips the mount sandbox (ProtectSystem=, ProtectHome=, PrivateTmp=); the test
#          says so, and systemd-analyze checks those settings;
#        - without one, in a chroot in a network namespace of its own, the unit's ExecStart is run
#          the way systemd would run it (User/Group, Environment, EnvironmentFile, StateDirectory,
#          no new privileges); MESHKV_PACKAGE_START=exec forces this path;
#   4. `dpkg --purge` removes both packages, the data and the unit's enablement; the container is
#      thrown away (the image stays as the cache), the cached tree is left as it was.
#
#   bash tests/package/run.sh [BUILD_DIR]            default: build
# Environment: MESHKV_PACKAGE_ROOT (the cached tree; default /var/cache/meshkv/package-test/bookworm),
# DEBIAN_MIRROR (default: the first Debian mirror of apt's sources, else http://deb.debian.org/debian).
# Exit 0 pass, 1 fail, 77 skipped (not root, dpkg-shlibdeps missing, or debootstrap missing where
# it is needed). First run with Docker: under a minute for the test image (2-3 more minutes when
# debian:bookworm-slim is missing, which the compose test needs anyway); without Docker,
# debootstrap, 2-9 minutes depending on the machine's load. Warm runs: 10-50 s, mostly cpack.
set -euo pipefail
cd "$(dirname "$0")/../.."
build="$(cd "${1:-build}" && pwd)"
root="${MESHKV_PACKAGE_ROOT:-/var/cache/meshkv/package-test/bookworm}"

log() { printf '[%3ds] %s\n' "$SECONDS" "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

[[ $(id -u) -eq 0 ]] || skip "needs root (debootstrap, chroot, namespaces)"
for tool in dpkg-deb dpkg-shlibdeps cpack flock; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
[[ -x $build/bin/meshkv-server && -x $build/bin/meshkv ]] ||
  fail "$build/bin/meshkv-server and meshkv are not built (ninja -C $build meshkv-server meshkv)"

# --- 1. The packages -------------------------------------------------------------------------
log "cpack -G DEB in $build"
rm -rf "$build/packages"
(cd "$build" && cpack -G DEB >"$build/cpack.log" 2>&1) || { tail -n 30 "$build/cpack.log"; fail "cpack failed"; }
server_deb="$(ls "$build"/packages/meshkv-server_*.deb)"
cli_deb="$(ls "$build"/packages/meshkv_*.deb)"
version="$(sed -n 's/^project(meshkv VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
for deb in "$server_deb" "$cli_deb"; do
  [[ "$(dpkg-deb -f "$deb" Version)" == "$version-1" ]] ||
    fail "$(basename "$deb"): version $(dpkg-deb -f "$deb" Version), want $version-1 (CMakeLists.txt)"
  # Debian policy: a one-line summary naming the package's part, then paragraph lines.
  desc="$(dpkg-deb -f "$deb" Description)"
  [[ "$(head -n1 <<<"$desc")" == "meshkv "* ]] && ! grep -q '^ ;' <<<"$desc" ||
    fail "$(basename "$deb"): malformed Description: $desc"
  log "$(basename "$deb"): $(du -k "$deb" | cut -f1) KiB, Depends: $(dpkg-deb -f "$deb" Depends)"
done
# Listings in variables: `dpkg-deb -c | grep -q` would die of SIGPIPE under pipefail.
server_files="$(dpkg-deb -c "$server_deb")"
cli_files="$(dpkg-deb -c "$cli_deb")"
for f in /usr/bin/meshkv-server /usr/bin/meshkv-certs /lib/systemd/system/meshkv-server.service /etc/default/meshkv; do
  grep -q " \.$f\$" <<<"$server_files" || fail "meshkv-server.deb has no $f"
done
grep -q ' \./usr/bin/meshkv$' <<<"$cli_files" || fail "meshkv.deb has no /usr/bin/meshkv"
if grep -q 'meshkv-server\|systemd' <<<"$cli_files"; then fail "meshkv.deb carries server files"; fi

# --- 2. Where the packages go -------------------------------------------------------------------
# With a Docker engine: a container with systemd as PID 1, from an image built FROM the local
# debian:bookworm-slim (the compose test's base; scripts/docker-base-image.sh makes it if missing).
# Without one, or with MESHKV_PACKAGE_START=exec: a debootstrapped tree, cached, used as a chroot.
start="${MESHKV_PACKAGE_START:-}"
if [[ -z $start ]]; then
  start=exec
  docker info >/dev/null 2>&1 && start=systemd
fi
# The packages' dependencies (name of the first alternative, versions aside).
deps="$( { dpkg-deb -f "$server_deb" Depends; echo ','; dpkg-deb -f "$cli_deb" Depends; } |
  tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' | grep -v '^$' | grep -vx meshkv | sort -u)"
cache=/var/cache/meshkv/package-test
mkdir -p "$cache"

if [[ $start == systemd ]]; then
  image=meshkv-package-test:systemd
  exec 9>"$cache/image.lock"
  flock 9  # Runs of several worktrees share the images: one builds them, the others wait.
  if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || skip "no debian:bookworm-slim image and no debootstrap to make one"
    log "no debian:bookworm-slim image: scripts/docker-base-image.sh (once; about a minute)"
    scripts/docker-base-image.sh >"$cache/base-image.log" 2>&1 ||
      { tail -n 30 "$cache/base-image.log"; fail "scripts/docker-base-image.sh failed (log: $cache/base-image.log)"; }
  fi
  old="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
  log "docker build $image FROM debian:bookworm-slim (tests/package/Dockerfile; layer-cached)"
  docker build -t "$image" --build-arg DEPS="$(echo $deps)" - <tests/package/Dockerfile >"$cache/image.log" 2>&1 ||
    { tail -n 30 "$cache/image.log"; fail "docker build of $image failed (log: $cache/image.log)"; }
  new="$(docker image inspect -f '{{.Id}}' "$image")"
  # A rebuilt image (new base, new dependencies) would leave the old one dangling.
  [[ -n $old && $old != "$new" ]] && docker image rm "$old" >/dev/null 2>&1 || true
  exec 9>&-
  log "image $image ready (${new:7:12}), dependencies present: $(echo $deps)"

  # --- 3. Install, verify, start: systemd as PID 1, no network but loopback ----------------------
  container="meshkv-package-test-$$"
  trap 'docker rm -f "$container" >/dev/null 2>&1' EXIT
  docker run -d --name "$container" --network none --tmpfs /run --tmpfs /run/lock \
    -v /sys/fs/cgroup:/sys/fs/cgroup:ro "$image" >/dev/null
  for _ in $(seq 1 120); do
    state="$(docker exec "$container" systemctl is-system-running 2>/dev/null || true)"
    [[ $state == running || $state == degraded ]] && break
    sleep 0.5
  done
  [[ $state == running || $state == degraded ]] || fail "systemd in the container is $state, not running"
  log "systemd runs as PID 1 in container $container ($state)"
  docker cp "$server_deb" "$container:/tmp/meshkv-server.deb"
  docker cp "$cli_deb" "$container:/tmp/meshkv.deb"
  docker cp tests/package/in_tree.sh "$container:/root/in_tree.sh"
  docker exec -e MESHKV_TEST_VERSION="$version" -e MESHKV_TEST_START=systemd "$container" \
    bash /root/in_tree.sh || fail "the packages did not install or run under systemd (see above)"
else
  for tool in debootstrap unshare chroot ip; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (needed without Docker)"
  done
  mkdir -p "$(dirname "$root")"
  exec 9>"$root.lock"
  flock 9  # One run at a time per tree: runs of several worktrees share it.

  mirror="${DEBIAN_MIRROR:-}"
  if [[ -z $mirror ]]; then
    mirror="$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
      grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)"
    mirror="${mirror:-http://deb.debian.org/debian}"
  fi

  # in_root CMD...: CMD in the tree, with /proc and /dev of a private mount namespace (gone on exit).
  in_root() {
    unshare --mount --fork -- sh -c 'mount --bind /proc "$0/proc" && mount --rbind /dev "$0/dev" && exec chroot "$0" "$@"' \
      "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
  }

  if [[ ! -f $root/.meshkv-ready ]]; then
    log "debootstrap bookworm (minbase + systemd) from $mirror into $root (once; cached; ~5 minutes)"
    rm -rf --one-file-system "$root.tmp"
    keyring=()
    [[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]] &&
      keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
    debootstrap --variant=minbase --include=systemd,adduser,openssl,ca-certificates,procps "${keyring[@]}" \
      bookworm "$root.tmp" "$mirror" >"$root.debootstrap.log" 2>&1 ||
      { tail -n 30 "$root.debootstrap.log"; fail "debootstrap failed (log: $root.debootstrap.log)"; }
    printf '#!/bin/sh\nexit 101\n' >"$root.tmp/usr/sbin/policy-rc.d"  # No service starts in the tree.
    chmod 0755 "$root.tmp/usr/sbin/policy-rc.d"
    rm -rf --one-file-system "$root"
    mv "$root.tmp" "$root"
    touch "$root/.meshkv-ready"
  fi

  missing=()
  for p in $deps; do
    in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing the packages' dependencies into the tree: ${missing[*]}"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    in_root sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" && apt-get clean' \
      sh "${missing[@]}" >"$root.apt.log" 2>&1 || { tail -n 30 "$root.apt.log"; fail "apt-get install in the tree failed"; }
  fi
  log "tree ready: $(. "$root/etc/os-release" && echo "$PRETTY_NAME"), dependencies present"

  # --- 3. Install, verify, start: the unit's ExecStart in a chroot with a network of its own ------
  # Leftovers of an interrupted run go first, the user too: this run must see the postinst make it.
  cleanup_tree() {
    in_root sh -c 'dpkg --purge meshkv-server meshkv >/dev/null 2>&1; userdel meshkv 2>/dev/null;
      groupdel meshkv 2>/dev/null; rm -rf /root/pkgtest /root/in_tree.sh /tmp/*.deb /tmp/*.service /etc/meshkv; true'
  }
  cleanup_tree
  trap 'cleanup_tree' EXIT
  cp "$server_deb" "$root/tmp/meshkv-server.deb"
  cp "$cli_deb" "$root/tmp/meshkv.deb"
  cp tests/package/in_tree.sh "$root/root/in_tree.sh"
  unshare --net --mount --fork -- sh -c '
    ip link set lo up &&
    mount --bind /proc "$0/proc" && mount --rbind /dev "$0/dev" &&
    exec chroot "$0" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      MESHKV_TEST_VERSION="$1" MESHKV_TEST_START=exec bash /root/in_tree.sh' "$root" "$version" ||
    fail "the packages did not install or run in the tree (see above)"
fi
log "PASS"
