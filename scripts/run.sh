#!/usr/bin/env bash
# Installs what is missing, builds meshkv, and starts a local 3-node cluster
# on loopback in the background; prints how to reach it. Idempotent: nodes
# already running are left alone.
#
#   scripts/run.sh          start the cluster (or show it, if it runs)
#   scripts/run.sh stop     stop it (SIGTERM, as an operator would); its data
#                           stays in build/run/data/ for the next start
#   scripts/run.sh wipe     stop it and delete its data (the next start is empty)
#
# Node i (1..3), ID nodei: gRPC 127.0.0.1:5005i, mesh 127.0.0.1:444i, metrics
# 127.0.0.1:946(3+i); nodes 2 and 3 join node 1. The mesh runs mutual TLS
# and gRPC runs TLS with client certificates, all made once by
# scripts/certs.sh in build/run/certs/: a cluster CA, one certificate per
# node, and in build/run/certs/client/ two for clients, "root" (admin) and
# "viewer" (read-only). Each node keeps its data in build/run/data/nodei
# (--data-dir, --fsync=interval). Logs in build/run/.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${MESHKV_BUILD_DIR:-build}"
run_dir="$build/run"
nodes=(1 2 3)

# A node that exited but was not reaped yet (a zombie) is not alive: it holds no port.
alive() {
  [ -f "$run_dir/node$1.pid" ] || return 1
  local state
  state="$(ps -o stat= -p "$(cat "$run_dir/node$1.pid")" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

if [ "${1:-start}" = "stop" ] || [ "${1:-start}" = "wipe" ]; then
  for i in "${nodes[@]}"; do
    if alive "$i"; then
      kill -TERM "$(cat "$run_dir/node$i.pid")"
      echo "stopping node$i"
    fi
  done
  for i in "${nodes[@]}"; do
    while alive "$i"; do sleep 0.1; done
    rm -f "$run_dir/node$i.pid"
  done
  echo "meshkv local cluster stopped"
  if [ "$1" = "wipe" ]; then
    rm -rf "$run_dir/data"
    echo "its data ($run_dir/data) deleted"
  fi
  exit 0
fi
[ "${1:-start}" = "start" ] || { echo "usage: scripts/run.sh [start|stop|wipe]" >&2; exit 2; }

scripts/setup.sh --target=meshkv-server --target=meshkv
mkdir -p "$run_dir"

# Certificates, once: kept across runs, so restarted nodes keep their identity.
certs="$run_dir/certs"
if [ ! -f "$certs/ca/ca.crt" ]; then
  scripts/certs.sh create-ca --certs-dir "$certs/ca" >/dev/null
fi
for i in "${nodes[@]}"; do
  if [ ! -f "$certs/node$i/node.crt" ]; then
    scripts/certs.sh create-node --certs-dir "$certs/node$i" --ca-key "$certs/ca/ca.key" \
      --node-id "node$i" --host 127.0.0.1 --host localhost >/dev/null
  fi
done
# Client certificates (CN = the name the role table below maps).
for name in root viewer; do
  if [ ! -f "$certs/client/client.$name.crt" ]; then
    scripts/certs.sh create-client --certs-dir "$certs/client" --ca-key "$certs/ca/ca.key" \
      --name "$name" >/dev/null
  fi
done
# What the CLI dials with (etcdctl's flags; MESHKV_CACERT/CERT/KEY in the
# environment work the same).
client="$PWD/$certs/client"
tls=(--cacert "$client/ca.crt" --cert "$client/client.root.crt" --key "$client/client.root.key")
for i in "${nodes[@]}"; do
  if alive "$i"; then continue; fi
  join=()
  [ "$i" -ne 1 ] && join=(--join=127.0.0.1:4441)
  setsid "$build/bin/meshkv-server" --node-id="node$i" --certs-dir="$certs/node$i" \
    --client-ca="$certs/ca/ca.crt" --client-roles="root=admin,viewer=read-only" \
    --data-dir="$run_dir/data/node$i" \
    --grpc-addr="127.0.0.1:5005$i" --mesh-addr="127.0.0.1:444$i" \
    --metrics-addr="127.0.0.1:946$((3 + i))" --cluster=local "${join[@]}" \
    >"$run_dir/node$i.log" 2>&1 </dev/null &
  echo $! >"$run_dir/node$i.pid"
done

for i in "${nodes[@]}"; do
  deadline=$((SECONDS + 30))
  until "$build/bin/meshkv" --addr "127.0.0.1:5005$i" "${tls[@]}" health >/dev/null 2>&1; do
    if ! alive "$i" || [ $SECONDS -ge $deadline ]; then
      echo "node$i did not come up; its log ($run_dir/node$i.log):" >&2
      tail -20 "$run_dir/node$i.log" >&2
      exit 1
    fi
    sleep 0.2
  done
done

cli="$build/bin/meshkv"
cat <<INFO
meshkv local cluster "local" is up (3 nodes, leasing on, mesh over mutual TLS, gRPC over TLS
with client certificates, data on disk):
  node   gRPC (TLS)       mesh (TLS)      metrics
  node1  127.0.0.1:50051  127.0.0.1:4441  http://127.0.0.1:9464/metrics
  node2  127.0.0.1:50052  127.0.0.1:4442  http://127.0.0.1:9465/metrics
  node3  127.0.0.1:50053  127.0.0.1:4443  http://127.0.0.1:9466/metrics
Certificates: $certs/{ca,node1,node2,node3,client} (scripts/certs.sh). Only a node with a
certificate from $certs/ca/ca.crt can join the mesh, and only a client with one can
reach the data: client "root" may do everything, "viewer" only read and watch.

The CLI reaches it with --cacert --cert --key, or with these in the environment:
  export MESHKV_CACERT=$client/ca.crt
  export MESHKV_CERT=$client/client.root.crt MESHKV_KEY=$client/client.root.key
Watch replication (in a second terminal, with the same three variables):
  $cli --addr 127.0.0.1:50053 watch
Then write through node 1 and read through node 2:
  $cli --addr 127.0.0.1:50051 set greeting hello
  $cli --addr 127.0.0.1:50052 get -v greeting
Read-only, as "viewer" (its del is refused with PERMISSION_DENIED):
  $cli --addr 127.0.0.1:50052 --cert $client/client.viewer.crt --key $client/client.viewer.key del greeting
Data: $run_dir/data/node{1,2,3} (kept by a stop; scripts/run.sh wipe deletes it)
Logs: $run_dir/node{1,2,3}.log      Stop: scripts/run.sh stop
INFO
