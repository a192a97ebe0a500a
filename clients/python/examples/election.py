#!/usr/bin/python3
"""Leader election on meshkv: a key written only if absent, with a time to live, kept alive by its leader.

    python3 election.py --endpoints=127.0.0.1:50051 --key=election/leader --name=alice --ttl-ms=5000

Each candidate runs this loop (docs/recipes.md, "Leader election"):

  campaign  set(key, name, precondition=ABSENT, ttl_ms=TTL). It succeeds for one candidate: the leader.
  lead      every TTL/3, refresh: set(key, name, precondition=<the version it holds>, ttl_ms=TTL). The
            version precondition makes the refresh a keep-alive that cannot extend someone else's key (a
            plain Touch cannot tell: if this leader's key expired and another took it, a Touch would keep
            the successor's key alive as if it were ours). A failed refresh means leadership is lost.
  follow    the others get the key (who leads), then watch it from that read's revision for its DELETE
            (the leader resigned, or its key expired because it stopped refreshing), and campaign again.
  resign    on SIGTERM/SIGINT the leader deletes the key, on condition that it still holds that version.

With --ttl-ms=0 the key never expires: a leader that dies without resigning leads forever (until an
operator deletes the key); a time to live is what makes a crashed leader's successor take over.

Output, one line per change, for the tests and for people:
    alice: leader (version 1853406023417348096/n1)
    bob: follower (leader alice)
    alice: resigned
    bob: leader (version ...)
Exits 0 after resigning or when stopped as a follower, 1 on an error.
"""

import argparse
import os
import signal
import sys
import threading

import grpc

import meshkv


class Stop(Exception):
    """SIGTERM or SIGINT: leave the election."""


def version_text(v):
    return f"{v.hlc}/{v.origin}"


class Candidate:
    def __init__(self, kv, key, name, ttl_ms, out=sys.stdout):
        self.kv, self.key, self.name, self.ttl_ms, self.out = kv, key.encode(), name, ttl_ms, out
        self.stopping = threading.Event()  # set by the signal handler
        self.leading = False  # while true, a signal only sets `stopping`: lead() resigns at its next wake-up

    def say(self, text):
        print(f"{self.name}: {text}", file=self.out, flush=True)

    def run(self):
        """Campaigns until stopped; returns after resigning (or, as a follower, at once)."""
        while not self.stopping.is_set():
            self.leading = True  # from the campaign on: a signal then resigns whatever the set's outcome
            try:
                try:
                    meta = self.kv.set(self.key, self.name, precondition=meshkv.ABSENT, ttl_ms=self.ttl_ms)
                except grpc.RpcError as e:
                    if e.code() != grpc.StatusCode.FAILED_PRECONDITION:
                        raise
                    meta = None
                if meta is not None:
                    self.say(f"leader (version {version_text(meta.version)})")
                    if self.lead(meta.version):
                        return
                    continue
            finally:
                self.leading = False
            if self.stopping.is_set():
                return
            self.follow()

    def lead(self, version):
        """Keeps the key alive until stopped (then resigns: True) or until a refresh fails (False)."""
        interval = self.ttl_ms / 3000 if self.ttl_ms else None
        while not self.stopping.wait(interval):
            try:
                version = self.kv.set(self.key, self.name, precondition=version, ttl_ms=self.ttl_ms).version
            except grpc.RpcError as e:
                if e.code() not in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
                    raise
                self.say(f"lost leadership ({e.code().name}: {e.details()})")
                return False
        try:
            self.kv.delete(self.key, precondition=version)
        except grpc.RpcError as e:
            if e.code() not in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
                raise
        self.say("resigned")
        return True

    def follow(self):
        """Waits until the key is deleted (or cannot be watched any more); then the caller campaigns."""
        entry = self.kv.get(self.key)
        if entry is None:
            return  # gone already
        leader = entry.value.bytes.decode(errors="replace")
        self.say(f"follower (leader {leader})")
        # The watch starts after the revision of the read, on the same node: no delete in between is missed.
        with self.kv.watch(self.key, start_revision=entry.meta.revision, filter=meshkv.DELETES) as watch:
            try:
                for event in watch:
                    if event.entry.key == self.key:
                        return
            except meshkv.WatchResumeError:
                return  # the watch moved to another node: read again


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", default=os.environ.get("MESHKV_ENDPOINTS", "127.0.0.1:50051"),
                        help="comma-separated host:port gRPC addresses")
    parser.add_argument("--key", default="election/leader", help="the election's key")
    parser.add_argument("--name", required=True, help="this candidate's name (the key's value while it leads)")
    parser.add_argument("--ttl-ms", type=int, default=5000,
                        help="the key's time to live; the leader refreshes it every third of it (0: never expires)")
    parser.add_argument("--cacert", default=os.environ.get("MESHKV_CACERT", ""), help="TLS: CA certificate (PEM)")
    parser.add_argument("--cert", default=os.environ.get("MESHKV_CERT", ""), help="TLS: client certificate (PEM)")
    parser.add_argument("--key-file", dest="key_file", default=os.environ.get("MESHKV_KEY", ""),
                        help="TLS: the client certificate's private key (PEM)")
    args = parser.parse_args()

    def on_signal(_signum, _frame):
        candidate.stopping.set()
        if not candidate.leading:
            raise Stop()  # out of a blocking get or watch: a follower has nothing to give back

    try:
        with meshkv.Client(args.endpoints, cacert=args.cacert, cert=args.cert, key=args.key_file) as kv:
            candidate = Candidate(kv, args.key, args.name, args.ttl_ms)
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
            try:
                candidate.run()
            except Stop:
                pass  # stopped while following (or campaigning): nothing to give back
    except grpc.RpcError as e:
        sys.exit(f"election.py: {e.code().name}: {e.details()}")


if __name__ == "__main__":
    main()
