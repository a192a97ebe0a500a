#!/usr/bin/env bash
# Checks meshkv-server with grpcurl, through server reflection only (no .proto files given): the services listed,
# KeyValue described, Set and Get with JSON bodies (bytes fields are base64), status codes, a List and a Watch
# stream, and grpc.health.v1.Health/Check answering SERVING.
#
#   MESHKV_BIN_DIR=build/bin bash tests/grpcurl/run.sh
#
# Registered with CTest as:
#   add_test(NAME grpcurl COMMAND bash ${PROJECT_SOURCE_DIR}/tests/grpcurl/run.sh)
#   set_tests_properties(grpcurl PROPERTIES ENVIRONMENT MESHKV_BIN_DIR=${PROJECT_BINARY_DIR}/bin
#                        SKIP_RETURN_CODE 77 TIMEOUT 600)
#
# grpcurl is installed once with `go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION` into
# $MESHKV_GO_TOOLS/grpcurl-$GRPCURL_VERSION (default $(go env GOPATH)/meshkv-tools) and reused afterwards; set GRPCURL
# to use another binary. Exit status: 0 every check passed; 1 a check failed (each failure is printed); 77 grpcurl is
# missing and cannot be installed (no Go toolchain, or offline), for CTest's SKIP_RETURN_CODE.
set -euo pipefail

GRPCURL_VERSION=v1.9.4
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# --- grpcurl -----------------------------------------------------------------------------------------------------
if [ -z "${GRPCURL:-}" ]; then
  if ! command -v go >/dev/null 2>&1; then
    if [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; else
      echo "grpcurl: SKIPPED: no Go toolchain to install grpcurl with, and GRPCURL is not set" >&2; exit 77
    fi
  fi
  gobin="${MESHKV_GO_TOOLS:-$(go env GOPATH)/meshkv-tools}/grpcurl-$GRPCURL_VERSION"
  GRPCURL="$gobin/grpcurl"
  if [ ! -x "$GRPCURL" ]; then
    echo "grpcurl: installing github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION into $gobin" >&2
    if ! (cd / && GOBIN="$gobin" GOWORK=off GOTOOLCHAIN=local \
          go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"); then
      echo "grpcurl: SKIPPED: cannot install grpcurl (offline and not in the module cache?)" >&2
      exit 77
    fi
  fi
fi

# --- the server --------------------------------------------------------------------------------------------------
if [ -z "${MESHKV_BIN_DIR:-}" ]; then
  echo "grpcurl: MESHKV_BIN_DIR is not set: point it at the directory that contains meshkv-server" >&2
  exit 1
fi
server_bin="$MESHKV_BIN_DIR/meshkv-server"
if [ ! -x "$server_bin" ]; then
  echo "grpcurl: MESHKV_BIN_DIR=$MESHKV_BIN_DIR: no executable meshkv-server there" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/meshkv-grpcurl.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# setpriv: the server dies with this script even if it is killed with SIGKILL (no trap runs then).
guard=()
if command -v setpriv >/dev/null 2>&1; then guard=(setpriv --pdeathsig KILL --); fi
"${guard[@]}" "$server_bin" --grpc-addr=127.0.0.1:0 --mesh-addr=127.0.0.1:0 --metrics-addr= \
  --node-id=grpcurl-test --info-file="$work/info.json" --insecure >"$work/server.log" 2>&1 &
server_pid=$!

deadline=$((SECONDS + 20))
until [ -s "$work/info.json" ]; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "grpcurl: meshkv-server exited before listening; its log:" >&2; cat "$work/server.log" >&2; exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "grpcurl: meshkv-server did not write its info file within 20 s; its log:" >&2
    cat "$work/server.log" >&2; exit 1
  fi
  sleep 0.02
done
addr="$(sed -n 's/.*"grpc": *"\([^"]*\)".*/\1/p' "$work/info.json")"
if [ -z "$addr" ]; then
  echo "grpcurl: no gRPC address in $(cat "$work/info.json")" >&2; exit 1
fi
echo "grpcurl: $("$GRPCURL" -version 2>&1 | head -1) ($GRPCURL_VERSION) against meshkv-server at $addr"

# --- checks ------------------------------------------------------------------------------------------------------
failures=0
out=""  # the last call's output
code=0  # the last call's exit status: 0, or 64 + the gRPC status code

fail() {
  echo "FAIL: $*" >&2
  printf '%s\n' "$out" | sed 's/^/    | /' >&2
  failures=$((failures + 1))
}
pass() { echo "ok:   $*"; }

# call ARGS...: runs grpcurl -plaintext -max-time 10 ARGS against the server, setting $out and $code.
call() {
  code=0
  out="$("$GRPCURL" -plaintext -max-time 10 "$@" 2>&1)" || code=$?
}
# has TEXT: the last output contains TEXT (a fixed string).
has() { grep -qF -- "$1" <<<"$out"; }
b64() { printf '%s' "$1" | base64 -w0; }

# 1. The services, through reflection.
call "$addr" list
for svc in meshkv.v1.KeyValue grpc.health.v1.Health grpc.reflection.v1alpha.ServerReflection; do
  if [ "$code" -eq 0 ] && grep -qx -- "$svc" <<<"$out"; then pass "list shows $svc"; else fail "list does not show $svc"; fi
done

# 2. describe.
call "$addr" describe meshkv.v1.KeyValue
ok=true
[ "$code" -eq 0 ] || ok=false
for rpc in "Get ( .meshkv.v1.GetRequest ) returns ( .meshkv.v1.GetResponse )" \
           "Set ( .meshkv.v1.SetRequest ) returns ( .meshkv.v1.SetResponse )" \
           "Delete ( .meshkv.v1.DeleteRequest ) returns ( .meshkv.v1.DeleteResponse )" \
           "Update ( .meshkv.v1.UpdateRequest ) returns ( .meshkv.v1.UpdateResponse )" \
           "ApplyDelta ( .meshkv.v1.ApplyDeltaRequest ) returns ( .meshkv.v1.ApplyDeltaResponse )" \
           "Pop ( .meshkv.v1.PopRequest ) returns ( .meshkv.v1.PopResponse )" \
           "PopItem ( .meshkv.v1.PopItemRequest ) returns ( .meshkv.v1.PopItemResponse )" \
           "List ( .meshkv.v1.ListRequest ) returns ( stream .meshkv.v1.ListResponse )" \
           "Watch ( .meshkv.v1.WatchRequest ) returns ( stream .meshkv.v1.WatchResponse )"; do
  has "rpc $rpc;" || { ok=false; echo "    missing: rpc $rpc" >&2; }
done
if $ok; then pass "describe meshkv.v1.KeyValue"; else fail "describe meshkv.v1.KeyValue"; fi
call "$addr" describe meshkv.v1.Value
if [ "$code" -eq 0 ] && has "bytes bytes = 1;" && has ".meshkv.v1.Mapping mapping = 2;"; then
  pass "describe meshkv.v1.Value"
else fail "describe meshkv.v1.Value"; fi

# 3. Set, then Get: bytes fields are base64 in JSON; a UTF-8 key is just bytes.
key="测试/grpcurl"
value="hello from grpcurl"
call -d "{\"key\": \"$(b64 "$key")\", \"value\": {\"bytes\": \"$(b64 "$value")\"}}" "$addr" meshkv.v1.KeyValue/Set
if [ "$code" -eq 0 ] && has '"owner": "grpcurl-test"' && has '"revision": "2"'; then
  pass "Set $key"
else fail "Set $key: want its meta (owner grpcurl-test, revision 2: the empty store is 1)"; fi
call -d "{\"key\": \"$(b64 "$key")\"}" "$addr" meshkv.v1.KeyValue/Get
if [ "$code" -eq 0 ] && has '"found": true' && has "\"key\": \"$(b64 "$key")\"" && has "\"bytes\": \"$(b64 "$value")\""; then
  pass "Get $key returns the value (base64 $(b64 "$value"))"
else fail "Get $key: want found, the key and the value, base64"; fi
call -d "{\"key\": \"$(b64 absent)\"}" "$addr" meshkv.v1.KeyValue/Get
if [ "$code" -eq 0 ] && ! has '"found"' && ! has '"entry"'; then
  pass "Get of an absent key: found=false (omitted in JSON), no entry"
else fail "Get of an absent key: want found=false and no entry"; fi

# 4. Status codes: grpcurl exits 64 + the code and prints it.
call -d "{\"key\": \"$(b64 absent)\"}" "$addr" meshkv.v1.KeyValue/Delete
if [ "$code" -eq $((64 + 5)) ] && has "Code: NotFound"; then pass "Delete of an absent key: NotFound"
else fail "Delete of an absent key: exit $code, want $((64 + 5)) (NotFound)"; fi
call -d '{"key": "", "value": {"bytes": ""}}' "$addr" meshkv.v1.KeyValue/Set
if [ "$code" -eq $((64 + 3)) ] && has "Code: InvalidArgument"; then pass "Set of an empty key: InvalidArgument"
else fail "Set of an empty key: exit $code, want $((64 + 3)) (InvalidArgument)"; fi
call -d "{\"key\": \"$(b64 "$key")\", \"delta\": {\"fields\": {\"f\": \"$(b64 v)\"}}}" "$addr" meshkv.v1.KeyValue/ApplyDelta
if [ "$code" -eq $((64 + 9)) ] && has "Code: FailedPrecondition"; then pass "ApplyDelta onto bytes: FailedPrecondition"
else fail "ApplyDelta onto bytes: exit $code, want $((64 + 9)) (FailedPrecondition)"; fi

# 5. Server streams: a List, and a Watch replaying the history after revision 2 (the Set) until
# grpcurl's -max-time cuts it.
call -d "{\"prefix\": \"$(b64 "测试/")\"}" "$addr" meshkv.v1.KeyValue/List
if [ "$code" -eq 0 ] && has "\"key\": \"$(b64 "$key")\"" && has '"revision": "2"'; then pass "List by prefix"
else fail "List by prefix: want the key and revision 2"; fi
call -d "{\"key\": \"$(b64 "$key")\"}" "$addr" meshkv.v1.KeyValue/Delete
code=0
out="$("$GRPCURL" -plaintext -max-time 1 -d '{"start_revision": "2", "prev_value": true}' "$addr" meshkv.v1.KeyValue/Watch 2>&1)" || code=$?
if [ "$code" -eq $((64 + 4)) ] && has '"created": true' && has '"type": "DELETE"' \
   && has "\"bytes\": \"$(b64 "$value")\""; then
  pass "Watch from revision 2: created, then the delete with its prev_value (until -max-time: DeadlineExceeded)"
else fail "Watch from revision 2: exit $code, want created, the DELETE event with prev_value, then DeadlineExceeded"; fi

# 6. Health, through reflection alone, as a probe or an operator would ask.
call "$addr" grpc.health.v1.Health/Check
if [ "$code" -eq 0 ] && has '"status": "SERVING"'; then
  pass "grpc.health.v1.Health/Check: SERVING"
else
  fail "grpc.health.v1.Health/Check through reflection: want SERVING"
  # Tell apart "not serving" from "reflection cannot describe the health service".
  call -import-path "$repo/proto" -proto grpc/health/v1/health.proto "$addr" grpc.health.v1.Health/Check
  if [ "$code" -eq 0 ] && has '"status": "SERVING"'; then
    echo "    (with -proto grpc/health/v1/health.proto it answers SERVING: the server's reflection cannot" \
         "describe grpc.health.v1.Health, its descriptors are not linked in)" >&2
  else
    fail "grpc.health.v1.Health/Check with -proto health.proto: want SERVING"
  fi
fi
call "$addr" describe grpc.health.v1.Health
if [ "$code" -eq 0 ] && has "rpc Check ( .grpc.health.v1.HealthCheckRequest ) returns ( .grpc.health.v1.HealthCheckResponse );"; then
  pass "describe grpc.health.v1.Health"
else fail "describe grpc.health.v1.Health (reflection lists the service, so it must describe it)"; fi

# --- the end: the server must stop cleanly on SIGTERM -------------------------------------------------------------
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
if [ "$status" -eq 0 ]; then pass "meshkv-server exits 0 on SIGTERM"; else
  out="$(cat "$work/server.log")"; fail "meshkv-server exited $status on SIGTERM, want 0"
fi

if [ "$failures" -ne 0 ]; then
  echo "grpcurl: $failures check(s) FAILED" >&2
  exit 1
fi
echo "grpcurl: all checks passed"
