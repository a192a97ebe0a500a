#!/usr/bin/env bash
# Build a local `debian:bookworm-slim` base image with debootstrap + `docker import`.
#
# deploy/docker/Dockerfile starts FROM debian:bookworm-slim in both stages. Where images can be
# pulled from Docker Hub nothing is needed: `docker build` pulls the official image. On machines that
# cannot pull from any registry (CI sandboxes, air-gapped hosts) but can reach a Debian mirror, run
# this script once first; it creates an equivalent image locally under exactly that tag, so the same
# Dockerfile builds unchanged.
#
# What it builds: a minbase bookworm rootfs (+ ca-certificates) with the same apt sources
# (bookworm, bookworm-updates, bookworm-security in /etc/apt/sources.list.d/debian.sources), the
# same "slim" dpkg path excludes and apt container settings as the official image, upgraded to the
# current point release + security updates, and CMD ["bash"].
#
# Usage: sudo scripts/docker-base-image.sh [--force] [--no-verify]
#   --force      rebuild even if the tag already exists (replaces the local tag)
#   --no-verify  skip the self-test (a throwaway `docker build` that apt-get installs a package)
# Environment:
#   DEBIAN_MIRROR           default http://deb.debian.org/debian
#   DEBIAN_SECURITY_MIRROR  default http://deb.debian.org/debian-security
#   TMPDIR                  where the temporary rootfs is created (default /tmp); removed on exit
#
# Needs: root, docker, debootstrap and debian-archive-keyring (apt-get install debootstrap
# debian-archive-keyring). Takes about a minute; a second run with the image present returns at once.
set -euo pipefail

readonly IMAGE="debian:bookworm-slim"
readonly SUITE="bookworm"
readonly MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
readonly SELFTEST_TAG="meshkv-base-selftest:tmp"

force=0
verify=1
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --no-verify) verify=0 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "docker-base-image: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

log() { printf '==> [%3ds] %s\n' "$SECONDS" "$*"; }
die() { printf 'docker-base-image: error: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker not found"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon (is it running? are you allowed to use it?)"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  if [[ $force -eq 0 ]]; then
    log "$IMAGE already present ($(docker image inspect -f '{{.Id}}' "$IMAGE" | cut -c1-19)); nothing to do (use --force to rebuild)"
    exit 0
  fi
  old_id="$(docker image inspect -f '{{.Id}}' "$IMAGE")"
  log "$IMAGE present but --force given: rebuilding"
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap needs it)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found (apt-get install debootstrap)"

workdir="$(mktemp -d "${TMPDIR:-/tmp}/meshkv-base-image.XXXXXX")"
rootfs="$workdir/rootfs"

cleanup() {
  local rc=$?
  set +e
  docker image rm -f "$SELFTEST_TAG" >/dev/null 2>&1
  if [[ -n "${workdir:-}" && -d "$workdir" ]]; then
    # Unmount anything (proc, etc.) still mounted below the work dir, deepest first, then delete it.
    awk -v p="$workdir/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r |
      while read -r m; do umount -l "$m"; done
    rm -rf --one-file-system "$workdir"
    log "removed temporary rootfs $workdir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

keyring_opt=()
if [[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]]; then
  keyring_opt=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
fi

log "debootstrap $SUITE (variant minbase, +ca-certificates) from $MIRROR into $rootfs"
debootstrap --variant=minbase --include=ca-certificates "${keyring_opt[@]}" \
  "$SUITE" "$rootfs" "$MIRROR" > "$workdir/debootstrap.log" 2>&1 || {
  tail -n 30 "$workdir/debootstrap.log" >&2
  die "debootstrap failed (end of its log above)"
}
log "debootstrap done ($(du -sm --apparent-size "$rootfs" | cut -f1) MB)"

log "configuring apt sources: $SUITE $SUITE-updates $SUITE-security"
rm -f "$rootfs/etc/apt/sources.list"
cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

log "applying the official image's container settings (slim dpkg excludes, apt tweaks, policy-rc.d)"
cat > "$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# This is the "slim" variant of the Debian base image.
# Many files which are normally unnecessary in containers are excluded,
# and this configuration file keeps them that way.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
cat > "$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
echo 'Acquire::GzipIndexes "true";' > "$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Acquire::Languages "none";' > "$rootfs/etc/apt/apt.conf.d/docker-no-languages"
printf '#!/bin/sh\n# no services may be started during image builds\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"

log "apt-get update + upgrade inside the rootfs (pulls $SUITE-updates / $SUITE-security fixes)"
cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
mount -t proc proc "$rootfs/proc"
chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  sh -c 'apt-get update -qq && apt-get -y -qq -o Dpkg::Use-Pty=0 upgrade && apt-get clean' \
  > "$workdir/upgrade.log" 2>&1 || { tail -n 30 "$workdir/upgrade.log" >&2; die "apt-get update/upgrade in rootfs failed"; }
umount "$rootfs/proc"
log "upgrade done: $(grep -c '^Setting up' "$workdir/upgrade.log" || true) package(s) set up from $SUITE-updates/$SUITE-security"

log "slimming the rootfs (docs, man pages, locales, apt lists, logs, host identity files)"
(
  cd "$rootfs"
  find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
  find usr/share/doc -mindepth 1 -depth -type d -empty -delete
  rm -rf usr/share/groff/* usr/share/info/* usr/share/linda/* usr/share/lintian/overrides/* \
         usr/share/locale/* usr/share/man/*
  rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb \
         var/cache/apt/archives/partial/* var/cache/debconf/*-old var/lib/dpkg/*-old tmp/* var/tmp/*
  rm -f var/log/bootstrap.log var/log/alternatives.log var/log/dpkg.log var/log/apt/*.log
  # Docker bind-mounts these at run time; do not ship the build host's values in the image.
  : > etc/resolv.conf
  : > etc/hostname
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > etc/hosts
)

os_version="$(. "$rootfs/etc/os-release" && echo "$PRETTY_NAME")"
log "importing rootfs as $IMAGE ($os_version, $(du -sm --apparent-size "$rootfs" | cut -f1) MB)"
tar --numeric-owner -C "$rootfs" -c . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change "LABEL org.opencontainers.image.description=\"$os_version minbase, built locally by meshkv scripts/docker-base-image.sh\"" \
    --message "meshkv scripts/docker-base-image.sh: debootstrap --variant=minbase $SUITE" \
    - "$IMAGE" >/dev/null
log "imported: $(docker image inspect -f '{{.Id}}' "$IMAGE" | cut -c1-19), size $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.1f MB", $1/1e6}')"

if [[ -n "${old_id:-}" && "$old_id" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]]; then
  # The previous image is now untagged; drop it unless something (a container, another tag) still uses it.
  if docker image rm "$old_id" >/dev/null 2>&1; then
    log "removed the previous, now untagged $IMAGE image (${old_id:7:12})"
  fi
fi

if [[ $verify -eq 1 ]]; then
  log "self-test: throwaway docker build FROM $IMAGE running apt-get update && apt-get install"
  printf 'FROM %s\nRUN apt-get update && apt-get install -y --no-install-recommends hostname less && hostname && less --version | head -n1 && rm -rf /var/lib/apt/lists/*\n' "$IMAGE" |
    docker build --no-cache -q -t "$SELFTEST_TAG" - > "$workdir/selftest.log" 2>&1 ||
    { cat "$workdir/selftest.log" >&2; die "self-test build failed: apt inside $IMAGE does not work"; }
  docker run --rm "$SELFTEST_TAG" sh -c 'command -v hostname less' >/dev/null ||
    die "self-test: installed packages not found in the test image"
  docker image rm -f "$SELFTEST_TAG" >/dev/null
  log "self-test passed (apt-get update/install works; test image removed)"
fi

log "done: $IMAGE is ready; now e.g. docker build -f deploy/docker/Dockerfile -t meshkv ."
