#!/usr/bin/python3
"""meshkv Python client example: watch a prefix, write a few keys, print the events.

It watches a prefix, writes three keys under it, reads one back, deletes one,
prints the events the watch delivers and exits. It uses the generated stubs
(meshkv.v1) of the installed package directly, to show the raw API; the
meshkv.Client class wraps them (examples/election.py uses it):

    /usr/bin/python3 -m pip install --no-build-isolation --target /tmp/meshkv-py ./clients/python
    PYTHONPATH=/tmp/meshkv-py /usr/bin/python3 clients/python/example.py --addr=127.0.0.1:50051

Against a node with TLS (certificates from scripts/certs.sh), give the CA that
signed it, and for a node run with --client-ca a client certificate whose name
has the read-write role (etcdctl's flag names; MESHKV_CACERT, MESHKV_CERT and
MESHKV_KEY are the defaults):

    ... example.py --addr=127.0.0.1:50051 --cacert=ca.crt --cert=client.app.crt --key=client.app.key

Output (revisions vary):

    watching "example/" after revision 1
    set example/a = "1" (revision 2)
    set example/b = "2" (revision 3)
    set example/c = "3" (revision 4)
    get example/a = "1" (owner n1, revision 2)
    delete example/b (revision 5)
    event UPDATE example/a = "1" (revision 2)
    event UPDATE example/b = "2" (revision 3)
    event UPDATE example/c = "3" (revision 4)
    event DELETE example/b (revision 5)

(the same lines as the Go example, clients/go/cmd/meshkv-example)
"""

import argparse
import json
import os
import sys

import grpc

try:
    from meshkv.v1 import kv_pb2, kv_pb2_grpc
except ImportError as e:  # pragma: no cover - a usage error, explained
    sys.exit(f"example.py: cannot import the meshkv stubs ({e}); install the package (clients/python/README.md)")


def quote(data):
    """Double-quotes text (or UTF-8 bytes) as the Go example's %q does for printable text."""
    if isinstance(data, bytes):
        data = data.decode(errors="replace")
    return json.dumps(data, ensure_ascii=False)


def describe(value):
    """Renders a value: quoted bytes, or a mapping's fields."""
    if value.WhichOneof("kind") == "mapping":
        return "mapping {" + ", ".join(f"{quote(k)}: {quote(v)}" for k, v in sorted(value.mapping.fields.items())) + "}"
    return quote(value.bytes)


def channel_for(addr, cacert="", cert="", key=""):
    """Plaintext when no file is given; else TLS trusting cacert (the system's roots without it),
    presenting cert and key."""
    if not (cacert or cert or key):
        return grpc.insecure_channel(addr)

    def read(path, flag):
        if not path:
            return None
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            raise RuntimeError(f"{flag}: {e}") from e

    if bool(cert) != bool(key):
        raise RuntimeError("--cert and --key go together")
    creds = grpc.ssl_channel_credentials(root_certificates=read(cacert, "--cacert"),
                                         private_key=read(key, "--key"),
                                         certificate_chain=read(cert, "--cert"))
    return grpc.secure_channel(addr, creds)


def run(addr, prefix, timeout, out=sys.stdout, cacert="", cert="", key=""):
    with channel_for(addr, cacert, cert, key) as channel:
        kv = kv_pb2_grpc.KeyValueStub(channel)

        # Start the watch first and wait for its "created" response: from then
        # on every change under the prefix is delivered, so none of ours is missed.
        watch = kv.Watch(kv_pb2.WatchRequest(prefix=prefix.encode()), timeout=timeout)
        try:
            created = next(watch)
            if not created.created:
                raise RuntimeError("watch: first response is not created=true")
            print(f"watching {quote(prefix)} after revision {created.revision}", file=out)

            writes = 0
            for name, value in (("a", "1"), ("b", "2"), ("c", "3")):
                key = prefix + name
                resp = kv.Set(kv_pb2.SetRequest(key=key.encode(), value=kv_pb2.Value(bytes=value.encode())),
                              timeout=timeout)
                writes += 1
                print(f"set {key} = {quote(value)} (revision {resp.meta.revision})", file=out)

            got = kv.Get(kv_pb2.GetRequest(key=(prefix + "a").encode()), timeout=timeout)
            if not got.found:
                raise RuntimeError(f"get {prefix}a: not found")
            e = got.entry
            print(f"get {e.key.decode()} = {describe(e.value)} (owner {e.meta.owner}, revision {e.meta.revision})",
                  file=out)

            deleted = kv.Delete(kv_pb2.DeleteRequest(key=(prefix + "b").encode()), timeout=timeout)
            writes += 1
            print(f"delete {prefix}b (revision {deleted.meta.revision})", file=out)

            # The events of our writes, in revision order (a response may batch several).
            seen = 0
            while seen < writes:
                for ev in next(watch).events:
                    seen += 1
                    e = ev.entry
                    if ev.type == kv_pb2.Event.UPDATE:
                        print(f"event UPDATE {e.key.decode()} = {describe(e.value)} (revision {e.meta.revision})",
                              file=out)
                    else:
                        print(f"event DELETE {e.key.decode()} (revision {e.meta.revision})", file=out)
        finally:
            watch.cancel()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:50051", help="meshkv-server gRPC address (host:port)")
    parser.add_argument("--prefix", default="example/", help="key prefix to watch and write under")
    parser.add_argument("--timeout", type=float, default=10.0, help="give up after this many seconds")
    parser.add_argument("--cacert", default=os.environ.get("MESHKV_CACERT", ""),
                        help="TLS: verify the server against this CA certificate (PEM); "
                             "none of --cacert --cert --key: plaintext")
    parser.add_argument("--cert", default=os.environ.get("MESHKV_CERT", ""),
                        help="TLS: this client's certificate (PEM), for a server run with --client-ca")
    parser.add_argument("--key", default=os.environ.get("MESHKV_KEY", ""), help="TLS: its private key (PEM)")
    args = parser.parse_args()
    try:
        run(args.addr, args.prefix, args.timeout, cacert=args.cacert, cert=args.cert, key=args.key)
    except grpc.RpcError as e:
        sys.exit(f"example.py: {e.code().name}: {e.details()}")
    except (RuntimeError, StopIteration) as e:
        sys.exit(f"example.py: {e or 'watch ended early'}")


if __name__ == "__main__":
    main()
