#!/usr/bin/env bash
# Certificates for the StatefulSet of deploy/k8s, as the Secret `meshkv-certs` that its pods mount.
#
#   deploy/k8s/certs.sh --namespace NS [--replicas N] [--cluster-domain D] [--dir DIR] [--days N]
#   kubectl apply -n NS -f DIR/secret.yaml          # printed by the script
#   kubectl apply -n NS -k deploy/k8s
#
# Runs scripts/certs.sh (create-ca, create-node, create-client) into DIR (default
# ./meshkv-certs-NS) and writes DIR/secret.yaml:
#   DIR/ca/ca.crt, ca.key      the cluster CA. ca.key never goes into the Secret: keep it safe
#                              (it signs every later certificate) and off the cluster
#   DIR/meshkv-<i>/            one node certificate per pod i < N. Node ID: the pod's stable
#                              address meshkv-<i>.meshkv-peers.NS.svc.D:4444 (the StatefulSet's
#                              MESHKV_NODE_ID); hosts: meshkv-<i>.meshkv-peers.NS.svc.D, the
#                              client Service's names (meshkv, meshkv.NS, meshkv.NS.svc,
#                              meshkv.NS.svc.D), localhost and 127.0.0.1 (port-forward, probes)
#   DIR/client/                ca.crt and client.root.crt/.key, for the CLI and other clients
#   DIR/secret.yaml            Secret meshkv-certs: ca.crt and meshkv-<i>.crt/.key for each pod
#                              (each pod presents its own, by its name: see statefulset.yaml)
# Running it again with the same DIR keeps what is there and adds what is missing: more
# replicas (--replicas 5 before scaling to 5), or a pod's certificate removed to re-issue it
# (rm -r DIR/meshkv-1; then apply secret.yaml and restart that pod). D defaults to
# cluster.local (K8S_CLUSTER_DOMAIN in configmap.yaml: keep them equal). NS must be the
# namespace the StatefulSet runs in: it is part of every node ID.
set -euo pipefail

die() { echo "deploy/k8s/certs.sh: $*" >&2; exit 2; }
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
certs_sh="$here/../../scripts/certs.sh"
[ -x "$certs_sh" ] || certs_sh="$(command -v meshkv-certs || true)"  # the image carries it
[ -n "$certs_sh" ] || die "scripts/certs.sh not found"

ns="" replicas=3 domain=cluster.local dir="" days=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n | --namespace) ns="$2"; shift 2 ;;
    --replicas) replicas="$2"; shift 2 ;;
    --cluster-domain) domain="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --days) days=(--days "$2"); shift 2 ;;
    -h | --help) usage 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ -n "$ns" ] || die "--namespace is required (it is part of every node ID)"
[[ "$ns" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "--namespace $ns is not a namespace name"
[[ "$replicas" =~ ^[1-9][0-9]*$ ]] || die "--replicas must be a positive number"
dir="${dir:-./meshkv-certs-$ns}"
command -v base64 >/dev/null || die "base64 is missing"

ca="$dir/ca"
[ -f "$ca/ca.key" ] || "$certs_sh" create-ca --certs-dir "$ca"
for ((i = 0; i < replicas; i++)); do
  pod="meshkv-$i"
  [ -f "$dir/$pod/node.crt" ] && continue
  rm -rf "${dir:?}/$pod"
  host="$pod.meshkv-peers.$ns.svc.$domain"
  "$certs_sh" create-node --certs-dir "$dir/$pod" --ca-key "$ca/ca.key" "${days[@]}" \
    --node-id "$host:4444" --host "$host" --host meshkv --host "meshkv.$ns" --host "meshkv.$ns.svc" \
    --host "meshkv.$ns.svc.$domain" --host localhost --host 127.0.0.1
done
[ -f "$dir/client/client.root.crt" ] ||
  "$certs_sh" create-client --certs-dir "$dir/client" --ca-key "$ca/ca.key" "${days[@]}" --name root

# Every pod certificate in DIR (also those of replicas beyond N made by an earlier run).
{
  echo "# Made by deploy/k8s/certs.sh --namespace $ns: the certificates of the meshkv pods."
  echo "apiVersion: v1"
  echo "kind: Secret"
  echo "metadata:"
  echo "  name: meshkv-certs"
  echo "  labels:"
  echo "    app.kubernetes.io/name: meshkv"
  echo "    app.kubernetes.io/instance: meshkv"
  echo "    app.kubernetes.io/component: server"
  echo "type: Opaque"
  echo "data:"
  echo "  ca.crt: $(base64 -w0 <"$ca/ca.crt")"
  for d in "$dir"/meshkv-*/; do
    pod="$(basename "$d")"
    echo "  $pod.crt: $(base64 -w0 <"$d/node.crt")"
    echo "  $pod.key: $(base64 -w0 <"$d/node.key")"
  done
} >"$dir/secret.yaml.tmp"
chmod 600 "$dir/secret.yaml.tmp"
mv "$dir/secret.yaml.tmp" "$dir/secret.yaml"

cat <<EOF
wrote $dir/secret.yaml (Secret meshkv-certs for pods meshkv-0..meshkv-$((replicas - 1)) in namespace $ns)
  kubectl apply -n $ns -f $dir/secret.yaml
  kubectl apply -n $ns -k deploy/k8s
CA key: $ca/ca.key (not in the Secret; keep it safe). Client certificate for the CLI: $dir/client/
EOF
