#!/usr/bin/env bash
# Checks the Prometheus files of deploy/prometheus with promtool:
#   1. every rule file there (a *.yml with a top-level `groups:`, which is how the image's entrypoint
#      picks them, see deploy/prometheus/Dockerfile) passes `promtool check rules`;
#   2. alerts_test.yml passes `promtool test rules`: each alert fires in its scenario and stays quiet
#      in a healthy cluster;
#   3. prometheus.yml passes `promtool check config`, with its rule_files glob
#      (/etc/prometheus/rules/*.yml) pointed at a temporary copy of that directory holding the rule
#      files, so that the rules it would load are checked too and the glob must match them.
#
#   bash tests/prometheus/rules.sh
#
# Registered with CTest (tests/CMakeLists.txt) as test `prometheus_rules`. Exit status: 0 all passed;
# 1 a check failed; 77 promtool is missing and cannot be installed (see lib.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="$repo/deploy/prometheus"
# shellcheck source=lib.sh
source "$here/lib.sh"

status=0
promtool="$(prometheus_tool promtool)" || status=$?
if [ "$status" -ne 0 ]; then exit "$status"; fi
echo "rules: $("$promtool" --version 2>&1 | head -1)"

work="$(mktemp -d "${TMPDIR:-/tmp}/meshkv-prom-rules.XXXXXX")"
trap 'rm -rf "$work"' EXIT

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# run DESCRIPTION COMMAND...: runs the command, shows its output indented, counts a failure.
run() {
  local what="$1" out rc=0
  shift
  out="$("$@" 2>&1)" || rc=$?
  printf '%s\n' "$out" | sed 's/^/    | /'
  if [ "$rc" -eq 0 ]; then echo "ok:   $what"; else fail "$what (exit $rc)"; fi
}

# 1. Rule files.
rule_files=()
for f in "$dir"/*.yml "$dir"/*.yaml; do
  [ -f "$f" ] || continue
  if grep -q '^groups:' "$f"; then rule_files+=("$f"); fi
done
if [ "${#rule_files[@]}" -eq 0 ] || [ ! -f "$dir/alerts.yml" ] || ! grep -q '^groups:' "$dir/alerts.yml"; then
  fail "deploy/prometheus/alerts.yml is missing or has no top-level groups:"
fi
for f in "${rule_files[@]}"; do
  run "promtool check rules ${f#"$repo"/}" "$promtool" check rules "$f"
done

# 2. Unit tests of the alerts (rule_files in alerts_test.yml are relative to it).
run "promtool test rules deploy/prometheus/alerts_test.yml" \
  "$promtool" test rules "$dir/alerts_test.yml"

# 3. prometheus.yml, its rule glob redirected to a copy of the rule files. promtool resolves
#    scrape-config file paths relative to the config, so the copy sits in the temporary directory.
glob='/etc/prometheus/rules/*.yml'
if ! grep -qF -- "- $glob" "$dir/prometheus.yml"; then
  fail "prometheus.yml does not load rule_files $glob (the path the image links rules to)"
fi
mkdir -p "$work/rules"
for f in "${rule_files[@]}"; do
  name="$(basename "$f")"
  cp "$f" "$work/rules/${name%.*}.yml"
done
config="$(cat "$dir/prometheus.yml")"
printf '%s\n' "${config//"$glob"/"$work/rules/*.yml"}" >"$work/prometheus.yml"  # literal, not a regex
if grep -qF -- "$glob" "$work/prometheus.yml"; then
  fail "could not redirect the rule_files glob in the copy of prometheus.yml"
fi
out="$("$promtool" check config "$work/prometheus.yml" 2>&1)" && rc=0 || rc=$?
printf '%s\n' "$out" | sed 's/^/    | /'
if [ "$rc" -ne 0 ]; then
  fail "promtool check config deploy/prometheus/prometheus.yml (exit $rc)"
elif ! grep -qF "Checking $work/rules/alerts.yml" <<<"$out"; then
  # promtool lists each rule file it checked; alerts.yml must be among them.
  fail "promtool check config deploy/prometheus/prometheus.yml did not load alerts.yml through its rule glob"
else
  echo "ok:   promtool check config deploy/prometheus/prometheus.yml (rules through $glob)"
fi

if [ "$failures" -ne 0 ]; then
  echo "rules: $failures check(s) FAILED" >&2
  exit 1
fi
echo "rules: all checks passed"
