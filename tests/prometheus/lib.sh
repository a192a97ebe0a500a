# Shared by tests/prometheus/run.sh and rules.sh (sourced, not run).
#
# prometheus_tool NAME: prints the path of NAME (prometheus or promtool). $PROMETHEUS or $PROMTOOL
# name another binary. When it is missing, installs the Debian package `prometheus` (which ships
# both) if this runs as root with apt-get, without letting the package start its own service.
# Returns 77 only when the tool is absent and cannot be installed; MESHKV_REQUIRE_PROMETHEUS=1
# makes that a failure (status 1) instead, for CI machines that must run these tests.

prometheus_tool() {
  local name="$1" override path
  case "$name" in
    prometheus) override="${PROMETHEUS:-}" ;;
    promtool) override="${PROMTOOL:-}" ;;
    *) echo "prometheus_tool: unknown tool $name" >&2; return 1 ;;
  esac
  if [ -n "$override" ]; then
    if [ ! -x "$override" ]; then echo "$name: $override is not an executable" >&2; return 1; fi
    echo "$override"; return 0
  fi
  path="$(command -v "$name" || true)"
  [ -z "$path" ] && [ -x "/usr/bin/$name" ] && path="/usr/bin/$name"
  if [ -n "$path" ]; then echo "$path"; return 0; fi

  echo "$name: not found; trying to install the Debian package 'prometheus'" >&2
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    # policy-rc.d exit 101: the package's maintainer scripts must not start a prometheus service.
    local policy=/usr/sbin/policy-rc.d made_policy=false
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && made_policy=true
    fi
    local ok=false
    if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >&2 ||
       { apt-get update >&2 &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >&2; }; then
      ok=true
    fi
    if $made_policy; then rm -f "$policy"; fi
    if $ok && [ -x "/usr/bin/$name" ]; then echo "/usr/bin/$name"; return 0; fi
    echo "$name: FAILED to install the Debian package 'prometheus'" >&2
  else
    echo "$name: cannot install the Debian package 'prometheus' (needs root and apt-get)" >&2
  fi
  if [ "${MESHKV_REQUIRE_PROMETHEUS:-0}" = 1 ]; then
    echo "$name: MESHKV_REQUIRE_PROMETHEUS=1: failing instead of skipping" >&2
    return 1
  fi
  echo "$name: SKIPPED: $name is not installed (apt-get install prometheus)" >&2
  return 77
}
