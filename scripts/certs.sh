#!/usr/bin/env bash
# Certificates for a meshkv cluster: a cluster CA, one certificate per node,
# one per client. The layout is CockroachDB's, so that `--certs-dir` finds
# everything by name:
#
#   scripts/certs.sh create-ca     --certs-dir DIR [--ca-key FILE] [--days N]
#   scripts/certs.sh create-node   --certs-dir DIR --node-id ID [--host H]... [--ca-key FILE]
#   scripts/certs.sh create-client --certs-dir DIR --name NAME [--ca-key FILE]
#   scripts/certs.sh list          --certs-dir DIR
#
#   DIR/ca.crt                 the cluster CA: every node and client trusts it
#   DIR/ca.key                 its key (default place; keep it off the nodes with --ca-key)
#   DIR/node.crt, node.key     this node's certificate: it names the node ID as a URI SAN
#                              (urn:meshkv:node:<ID>, the ID percent-encoded), and its hosts
#                              (DNS names or IP addresses) as DNS/IP SANs; usable as server
#                              and as client (peers dial each other)
#   DIR/client.NAME.crt, .key  a client's certificate, CN=NAME: the name the server's role
#                              table (--client-roles) maps to read-only, read-write or admin
#
# A node refuses a peer whose certificate does not chain to ca.crt, has expired, or does
# not name the node ID the peer's Hello claims; it trusts a peer's advertised address only
# when its host is one of the certificate's hosts. Keys are ECDSA P-256; node and client
# certificates last --days (default 365; a negative number makes one that has already
# expired, for tests), the CA 10 years. Existing files are never
# overwritten: remove them first to re-issue (a node restarted with a new certificate
# from the same CA rejoins as before).
set -euo pipefail

die() { echo "certs.sh: $*" >&2; exit 2; }
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

cmd="${1:-}"
[ -n "$cmd" ] || usage
shift
case "$cmd" in -h | --help | help) usage 0 ;; esac

certs_dir="" ca_key="" node_id="" name="" days=365 ca_days=3650
hosts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --certs-dir) certs_dir="$2"; shift 2 ;;
    --certs-dir=*) certs_dir="${1#*=}"; shift ;;
    --ca-key) ca_key="$2"; shift 2 ;;
    --ca-key=*) ca_key="${1#*=}"; shift ;;
    --node-id) node_id="$2"; shift 2 ;;
    --node-id=*) node_id="${1#*=}"; shift ;;
    --host) hosts+=("$2"); shift 2 ;;
    --host=*) hosts+=("${1#*=}"); shift ;;
    --name) name="$2"; shift 2 ;;
    --name=*) name="${1#*=}"; shift ;;
    --days) days="$2"; ca_days="$2"; shift 2 ;;
    --days=*) days="${1#*=}"; ca_days="$days"; shift ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ -n "$certs_dir" ] || die "--certs-dir is required"
ca_key="${ca_key:-$certs_dir/ca.key}"
command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"
mkdir -p "$certs_dir"
umask 077

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
refuse_existing() { for f in "$@"; do [ ! -e "$f" ] || die "$f exists; remove it to re-issue"; done; }

# RFC 3986 percent-encoding of everything but unreserved characters and ':',
# byte by byte (LC_ALL=C: in a UTF-8 locale bash would walk characters and
# printf would give code points, so "é" became %E9 instead of %C3%A9).
urn_escape() {
  local LC_ALL=C
  local s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in
      [A-Za-z0-9._~:-]) out+="$c" ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# The CA certificate sits beside its key; a certs dir without one gets a copy,
# since every node and client needs it.
need_ca() {
  [ -f "$ca_key" ] || die "CA key $ca_key is missing: run create-ca first, or give --ca-key"
  local ca_crt
  ca_crt="$(dirname "$ca_key")/ca.crt"
  [ -f "$ca_crt" ] || die "$ca_crt is missing beside the CA key"
  [ -f "$certs_dir/ca.crt" ] || install -m 644 "$ca_crt" "$certs_dir/ca.crt"
}

# Signs $1 (a CSR) with the CA into $2, with the extensions in $3.
sign() {
  openssl x509 -req -in "$1" -CA "$certs_dir/ca.crt" -CAkey "$ca_key" -CAcreateserial \
    -CAserial "$(dirname "$ca_key")/ca.srl" -days "$days" -sha256 -extfile "$3" -out "$2" 2>/dev/null
}

case "$cmd" in
  create-ca)
    refuse_existing "$certs_dir/ca.crt" "$ca_key"
    new_key "$ca_key"
    openssl req -x509 -new -key "$ca_key" -subj "/O=meshkv/CN=meshkv CA" -days "$ca_days" \
      -sha256 -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$certs_dir/ca.crt" 2>/dev/null
    chmod 644 "$certs_dir/ca.crt"
    echo "created $certs_dir/ca.crt and $ca_key"
    ;;
  create-node)
    [ -n "$node_id" ] || die "--node-id is required"
    refuse_existing "$certs_dir/node.crt" "$certs_dir/node.key"
    need_ca
    san="URI:urn:meshkv:node:$(urn_escape "$node_id")"
    for h in "${hosts[@]}"; do
      if [[ "$h" =~ ^[0-9.]+$ || "$h" == *:* ]]; then san+=",IP:$h"; else san+=",DNS:$h"; fi
    done
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    new_key "$certs_dir/node.key"
    openssl req -new -key "$certs_dir/node.key" -subj "/O=meshkv/CN=node" -out "$tmp/csr" 2>/dev/null
    cat >"$tmp/ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
EXT
    sign "$tmp/csr" "$certs_dir/node.crt" "$tmp/ext"
    chmod 644 "$certs_dir/node.crt"
    echo "created $certs_dir/node.crt for node $node_id ($san)"
    ;;
  create-client)
    [ -n "$name" ] || die "--name is required"
    [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || die "--name may hold letters, digits, '.', '_' and '-'"
    refuse_existing "$certs_dir/client.$name.crt" "$certs_dir/client.$name.key"
    need_ca
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    new_key "$certs_dir/client.$name.key"
    openssl req -new -key "$certs_dir/client.$name.key" -subj "/O=meshkv/CN=$name" \
      -out "$tmp/csr" 2>/dev/null
    cat >"$tmp/ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EXT
    sign "$tmp/csr" "$certs_dir/client.$name.crt" "$tmp/ext"
    chmod 644 "$certs_dir/client.$name.crt"
    echo "created $certs_dir/client.$name.crt (CN=$name)"
    ;;
  list)
    for f in "$certs_dir"/*.crt; do
      [ -e "$f" ] || continue
      echo "$(basename "$f"): $(openssl x509 -in "$f" -noout -subject -enddate | tr '\n' ' ')"
      openssl x509 -in "$f" -noout -ext subjectAltName 2>/dev/null | sed -n '2p' | sed 's/^ */    /'
    done
    ;;
  *) die "unknown command $cmd (see --help)" ;;
esac
