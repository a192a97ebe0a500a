#!/usr/bin/env bash
# tests/package/run.sh, part 3, inside the debootstrapped tree: install the packages, check them,
# start the node, purge. /tmp/meshkv-server.deb and /tmp/meshkv.deb are the packages under test.
# MESHKV_TEST_START says how the node starts:
#   systemd  the tree runs as a container with systemd as PID 1: systemctl start meshkv-server
#   exec     the tree is a chroot (in a network namespace of its own): the unit's ExecStart is run
#            the way systemd would run it
set -euo pipefail
unit=/lib/systemd/system/meshkv-server.service
start="${MESHKV_TEST_START:-exec}"

log() { printf '[%3ds]   %s\n' "$SECONDS" "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  if [[ $start == systemd ]]; then
    systemctl status --no-pager meshkv-server >&2 || true
    journalctl -u meshkv-server --no-pager | tail -n 30 >&2 || true
  elif [[ -f /root/pkgtest/server.log ]]; then
    tail -n 30 /root/pkgtest/server.log >&2
  fi
  exit 1
}

log "dpkg -i meshkv-server.deb meshkv.deb"
! getent passwd meshkv >/dev/null || fail "a meshkv user exists before the install"
dpkg -i /tmp/meshkv-server.deb /tmp/meshkv.deb >/root/dpkg.log 2>&1 || { cat /root/dpkg.log; fail "dpkg -i failed"; }
for p in meshkv-server meshkv; do
  [[ "$(dpkg-query -W -f='${Status} ${Version}' "$p")" == "install ok installed $MESHKV_TEST_VERSION-1" ]] ||
    fail "$p: $(dpkg-query -W -f='${Status} ${Version}' "$p")"
done

# The postinst's user: a system account without a login or a home.
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd meshkv) || fail "the postinst made no meshkv user"
[[ $uid -lt 1000 && $shell == /usr/sbin/nologin && ! -e $home ]] ||
  fail "meshkv user: uid $uid, shell $shell, home $home (want a system account, nologin, no home)"
[[ "$(getent group "$gid" | cut -d: -f1)" == meshkv ]] || fail "meshkv's primary group is not meshkv"
[[ "$(stat -c '%U:%G %a' /etc/meshkv/certs)" == "root:meshkv 750" ]] ||
  fail "/etc/meshkv/certs: $(stat -c '%U:%G %a' /etc/meshkv/certs), want root:meshkv 750"
log "postinst: system user meshkv (uid $uid), /etc/meshkv/certs root:meshkv 0750"

# The conffile, and every variable it names is a flag the server knows.
dpkg-query -W -f='${Conffiles}\n' meshkv-server | grep -q '^ /etc/default/meshkv ' ||
  fail "/etc/default/meshkv is not a conffile of meshkv-server"
help="$(meshkv-server --help)"
vars="$(grep -oE '^#?MESHKV_[A-Z_]+=' /etc/default/meshkv | tr -d '#=' | sort -u)"
[[ $(wc -w <<<"$vars") -ge 10 ]] || fail "/etc/default/meshkv documents only: $vars"
for v in $vars; do
  grep -q "($v, default" <<<"$help" || fail "/etc/default/meshkv names $v, which is no flag of meshkv-server --help"
done
log "conffile /etc/default/meshkv: $(wc -w <<<"$vars") variables, each a flag of meshkv-server"

# systemd-analyze verify: the unit as installed, and a copy with one defect each (not vacuous).
out="$(systemd-analyze verify "$unit" 2>&1)" || fail "systemd-analyze verify $unit: $out"
if grep -q 'meshkv-server' <<<"$out"; then fail "systemd-analyze verify warns about the unit: $out"; fi
for defect in 's|^ExecStart=/usr/bin/meshkv-server|ExecStart=/usr/bin/meshkv-serverx|' \
              's|^ProtectSystem=strict|ProtectSystem=strictly|'; do
  sed "$defect" "$unit" >/tmp/meshkv-broken.service
  cmp -s "$unit" /tmp/meshkv-broken.service && fail "defect $defect changed nothing"
  if out="$(systemd-analyze verify /tmp/meshkv-broken.service 2>&1)" && ! grep -q 'meshkv-broken' <<<"$out"; then
    fail "systemd-analyze verify accepts a unit with $defect"
  fi
done
# The hardening the package promises, as systemd reads it.
for want in User=meshkv Group=meshkv EnvironmentFile=/etc/default/meshkv StateDirectory=meshkv \
            ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes PrivateTmp=yes CapabilityBoundingSet=; do
  grep -qx "$want" "$unit" || fail "$unit lacks $want"
done
log "systemd-analyze verify: the unit passes, broken copies do not"

# systemd's own score of the sandbox (0 = locked down, 10 = none): the unit must stay "OK" (< 2.0);
# the same unit without its hardening section scores far worse, so the bound means something.
exposure() {
  systemd-analyze security --offline=true --no-pager "$1" 2>&1 |
    sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\).*/\1/p'
}
score="$(exposure "$unit")"
sed '/^# Hardening/,/^\[Install\]/{/^\[Install\]/!d}' "$unit" >/tmp/meshkv-bare.service
bare="$(exposure /tmp/meshkv-bare.service)"
[[ -n $score && -n $bare ]] || fail "systemd-analyze security printed no exposure level"
awk -v s="$score" -v b="$bare" 'BEGIN { exit !(s < 2.0 && b >= 5.0) }' ||
  fail "exposure level $score (want < 2.0; without the hardening options $bare, want >= 5.0)"
log "systemd-analyze security: exposure $score (without the hardening options: $bare)"

# Certificates, as /etc/default/meshkv tells an administrator to make them.
mkdir -p /root/pkgtest
meshkv-certs create-ca --certs-dir /root/pkgtest/ca >/dev/null
meshkv-certs create-node --certs-dir /etc/meshkv/certs --ca-key /root/pkgtest/ca/ca.key \
  --node-id pkgtest --host localhost --host 127.0.0.1 >/dev/null
chgrp -R meshkv /etc/meshkv/certs && chmod 0640 /etc/meshkv/certs/*
cat >>/etc/default/meshkv <<'EOF'
MESHKV_NODE_ID=pkgtest
MESHKV_GRPC_ADDR=127.0.0.1:50051
MESHKV_MESH_ADDR=127.0.0.1:4444
MESHKV_METRICS_ADDR=127.0.0.1:9464
EOF

value() { sed -n "s/^$1=//p" "$unit"; }
state="/var/lib/$(value StateDirectory)"
cli=(meshkv --addr 127.0.0.1:50051 --cacert /etc/meshkv/certs/ca.crt --timeout 2s)
if [[ $start == systemd ]]; then
  # systemd itself: User/Group, Environment, EnvironmentFile, StateDirectory, the sandbox.
  systemctl enable --quiet meshkv-server || fail "systemctl enable meshkv-server"
  [[ "$(systemctl is-enabled meshkv-server)" == enabled ]] || fail "the unit is not enabled after enable"
  systemctl start meshkv-server || fail "systemctl start meshkv-server"
  pid="$(systemctl show -p MainPID --value meshkv-server)"
  alive() { systemctl is-active --quiet meshkv-server; }
else
  # ExecStart as systemd runs it: the unit's Environment= lines, then EnvironmentFile= (which
  # overrides them), User=/Group=, StateDirectory=/StateDirectoryMode=, NoNewPrivileges=.
  install -d -m "$(value StateDirectoryMode)" -o "$(value User)" -g "$(value Group)" "$state"
  env_args=()
  while IFS= read -r kv; do env_args+=("$kv"); done < <(value Environment)
  while IFS= read -r kv; do env_args+=("$kv"); done < <(grep -E '^[A-Z_]+=' "$(value EnvironmentFile)")
  read -r -a exec_start <<<"$(value ExecStart)"
  setpriv --reuid="$(value User)" --regid="$(value Group)" --init-groups --no-new-privs \
    env -i "${env_args[@]}" "${exec_start[@]}" >/root/pkgtest/server.log 2>&1 &
  pid=$!
  alive() { kill -0 "$pid" 2>/dev/null; }
fi
for _ in $(seq 1 150); do
  "${cli[@]}" health >/dev/null 2>&1 && break
  alive || fail "meshkv-server exited before answering Health"
  sleep 0.2
done
"${cli[@]}" health >/dev/null || fail "meshkv-server did not answer Health within 30 s"
[[ "$(stat -c %U /proc/$pid)" == meshkv ]] || fail "meshkv-server runs as $(stat -c %U /proc/$pid), not meshkv"
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$pid/status" || fail "meshkv-server runs without no_new_privs"
if [[ $start == systemd ]]; then
  # SystemCallFilter= for real: the node serves under the filter (mode 2 = seccomp filter).
  grep -q '^Seccomp:[[:space:]]*2' "/proc/$pid/status" || fail "meshkv-server runs without its seccomp filter"
  log "systemd started meshkv-server.service (pid $pid, user meshkv, seccomp filter, no_new_privs)"
  # ProtectSystem=, ProtectHome=, PrivateTmp= need a mount namespace, which systemd skips inside a
  # container that lacks CAP_SYS_ADMIN (Docker's default): said here, not hidden.
  if awk '$5 == "/usr" && $6 ~ /^ro/' "/proc/$pid/mountinfo" | grep -q .; then
    log "mount sandbox applied: /usr is read-only for the node"
  else
    log "mount sandbox not applied in this container (no CAP_SYS_ADMIN); systemd-analyze checks it above"
  fi
fi
log "meshkv-server (pid $pid, user meshkv) answers Health over TLS"

# The server keeps its data where the unit says, and stops cleanly.
"${cli[@]}" set pkg/hello world >/dev/null || fail "set through the packaged CLI failed"
[[ "$("${cli[@]}" get pkg/hello)" == world ]] || fail "get pkg/hello did not return world"
[[ -d $state/data && "$(stat -c %U "$state/data")" == meshkv ]] ||
  fail "no data directory $state/data owned by meshkv: $(ls -la "$state")"
# An upgrade (the same package again: the postinst runs with the old version as $2) keeps the
# administrator's /etc/default/meshkv and the data, and restarts a node that was running.
dpkg -i /tmp/meshkv-server.deb >/root/dpkg.log 2>&1 || { cat /root/dpkg.log; fail "dpkg -i (upgrade) failed"; }
grep -qx MESHKV_NODE_ID=pkgtest /etc/default/meshkv || fail "the upgrade replaced the edited /etc/default/meshkv"
if [[ $start == systemd ]]; then
  new_pid="$(systemctl show -p MainPID --value meshkv-server)"
  [[ $new_pid != 0 && $new_pid != "$pid" ]] || fail "the upgrade did not restart the running node (pid $pid -> $new_pid)"
  pid="$new_pid"
  for _ in $(seq 1 150); do "${cli[@]}" health >/dev/null 2>&1 && break; sleep 0.2; done
  [[ "$("${cli[@]}" get pkg/hello)" == world ]] || fail "after the upgrade's restart pkg/hello is gone"
  log "upgrade: conffile kept, node restarted (pid $pid), pkg/hello still there (from its data directory)"
else
  log "upgrade: the edited conffile is kept"
fi
if [[ $start == systemd ]]; then
  systemctl stop meshkv-server
  result="$(systemctl show -p Result --value meshkv-server) $(systemctl show -p ExecMainStatus --value meshkv-server)"
  [[ $result == "success 0" ]] || fail "systemctl stop: result and exit status $result, want success 0"
else
  kill -TERM "$pid"
  rc=0
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || fail "meshkv-server exited $rc on SIGTERM"
fi
log "a key written, data in $state/data, SIGTERM: exit 0"

# Purge: packages, data and the empty config dir go; the user stays (Debian's custom).
dpkg --purge meshkv meshkv-server >/root/dpkg.log 2>&1 || { cat /root/dpkg.log; fail "dpkg --purge failed"; }
[[ ! -e /usr/bin/meshkv-server && ! -e /usr/bin/meshkv && ! -e $unit && ! -e /etc/default/meshkv ]] ||
  fail "files left after purge"
[[ ! -e $state ]] || fail "$state left after purge"
[[ ! -e /etc/systemd/system/multi-user.target.wants/meshkv-server.service ]] ||
  fail "the unit is still enabled after purge"
[[ -e /etc/meshkv/certs/node.crt ]] || fail "purge deleted the administrator's certificates"
log "dpkg --purge: packages and data gone, certificates kept"
