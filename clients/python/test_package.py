#!/usr/bin/python3
"""Tests of the installed meshkv package (meshkv.Client, meshkv.Watch) against real meshkv-servers.

run_tests.sh installs the package with pip (offline, Debian's grpcio) into a virtual environment and runs
test_client.py, which loads these tests too; the servers are test_client's Server. What is real here:
servers on ports, an endpoint nobody listens on, a TCP proxy whose connections the test cuts (a broken
stream without a stopped server), a server restarted on its data directory, TLS with client certificates.
"""

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

import meshkv
from meshkv.v1 import kv_pb2

import test_client
from test_client import HERE, RPC_TIMEOUT, Server

WAIT = 20.0  # seconds: any wait for a condition
# A history small enough for PAST_THE_HISTORY writes elsewhere to push a watch's last event out of it, and
# large enough that a live stream (reading the history as the writes come) never falls out of it on a
# loaded machine, which would get it cut off.
HISTORY_FLAG = "--watch-history=64"
PAST_THE_HISTORY = 200


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


def wait_until(what, condition, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


class Proxy:
    """A TCP proxy on 127.0.0.1 port 0 to `target`; cut() closes every connection it carries (the
    client sees its stream break while the server runs on), later connections are carried again."""

    def __init__(self, target):
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.addr = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0  # accepted so far
        self._mu = threading.Lock()
        self._sockets = []  # guarded by _mu
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._mu:
                self.connections += 1
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self._mu:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.listener.close()
        self.cut()


class Consumer:
    """Reads a Watch on a thread into a queue, so the test can look at watch.revision meanwhile."""

    def __init__(self, watch):
        self.watch, self.items, self.error = watch, queue.Queue(), None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for item in self.watch:
                self.items.put(item)
        except Exception as e:  # handed to the test through next()
            self.error = e
            self.items.put(e)

    def next(self, timeout=WAIT):
        try:
            item = self.items.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no watch item within {timeout}s") from None
        if isinstance(item, Exception):
            raise item
        return item


def describe(event):
    text = f"{kv_pb2.Event.Type.Name(event.type)} {event.entry.key.decode()}"
    if event.type == kv_pb2.Event.UPDATE:
        text += "=" + event.entry.value.bytes.decode()
    return text


class PackageTest(unittest.TestCase):
    """Servers started by a test are stopped (SIGTERM, exit 0 expected) when it ends."""

    def start_server(self, *flags, node_id="py-test", **kwargs):
        server = Server(f"--node-id={node_id}", *flags, **kwargs)
        self.addCleanup(self.stop_server, server)
        return server

    def stop_server(self, server):
        if server.proc.poll() is None or server in test_client._live_servers:
            problem = server.stop()
            if problem:
                self.fail(problem)

    def client(self, endpoints, **kwargs):
        c = meshkv.Client(endpoints, timeout=RPC_TIMEOUT, **kwargs)
        self.addCleanup(c.close)
        return c

    def watch(self, client, prefix, **kwargs):
        w = client.watch(prefix, **kwargs)
        self.addCleanup(w.close)
        return w


class InstalledTest(unittest.TestCase):
    def test_imported_from_the_installed_package(self):
        # run_tests.sh sets MESHKV_PY_SITE to where pip installed the package; the stubs came with it.
        site = os.environ.get("MESHKV_PY_SITE")
        if not site:
            self.skipTest("not run through run_tests.sh (MESHKV_PY_SITE unset)")
        for module in (meshkv, meshkv.v1.kv_pb2, meshkv.v1.cluster_pb2_grpc):
            self.assertTrue(os.path.realpath(module.__file__).startswith(os.path.realpath(site) + os.sep),
                            f"{module.__name__} from {module.__file__}, want the installed copy under {site}")


class ClientTest(PackageTest):
    def setUp(self):
        self.server = self.start_server()
        self.kv = self.client([self.server.addr])

    def test_typed_helpers(self):
        kv = self.kv
        meta = kv.set("greeting", "hello")
        self.assertEqual(meta.owner, "py-test")
        e = kv.get("greeting")
        self.assertEqual((e.key, e.value.bytes, e.meta), (b"greeting", b"hello", meta))
        self.assertIsNone(kv.get("absent"))
        self.assertEqual(kv.get(b"greeting").value.bytes, b"hello", "bytes and str keys are the same key")

        e = kv.apply_delta("profile", {"name": "ada", "lang": "en"})
        self.assertEqual(dict(e.value.mapping.fields), {"name": b"ada", "lang": b"en"})
        kv.set("map", {"a": "1"})
        self.assertEqual(dict(kv.get("map").value.mapping.fields), {"a": b"1"})

        metas = kv.update({"u/a": "1", "u/b": "2"})
        self.assertEqual([m.revision for m in metas], [kv.get("u/a").meta.revision, kv.get("u/b").meta.revision])
        listing = kv.list("u/")
        self.assertEqual([x.key for x in listing.entries], [b"u/a", b"u/b"])
        self.assertEqual((listing.revision, listing.more), (metas[-1].revision, False))
        listing = kv.list("u/", limit=1)
        self.assertEqual(([x.key for x in listing.entries], listing.more), ([b"u/a"], True))
        self.assertEqual(kv.count("u/"), 2)

        self.assertEqual(kv.pop("u/a").value.bytes, b"1")
        self.assertEqual(kv.delete("u/b").prev.value.bytes, b"2")
        self.assertEqual(kv.count("u/"), 0)
        with self.assertRaises(grpc.RpcError) as cm:
            kv.delete("u/b")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(kv.pop_item().key, b"greeting", "the first key in key order")

    def test_preconditions(self):
        kv = self.kv
        first = kv.set("lock", "me", precondition=meshkv.ABSENT)
        with self.assertRaises(grpc.RpcError) as cm:
            kv.set("lock", "you", precondition=meshkv.ABSENT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION, cm.exception.details())
        second = kv.set("lock", "me again", precondition=first.version)
        with self.assertRaises(grpc.RpcError) as cm:
            kv.set("lock", "stale", precondition=first.version)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(kv.get("lock").value.bytes, b"me again", "refused writes changed nothing")
        with self.assertRaises(grpc.RpcError) as cm:
            kv.delete("lock", precondition=first.version)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        kv.delete("lock", precondition=second.version)
        self.assertIsNone(kv.get("lock"))
        with self.assertRaises(TypeError):
            kv.set("lock", "x", precondition="absent")

    def test_deadline(self):
        # An endpoint that accepts TCP connections and never answers (a listening socket nobody accepts
        # on): the call's deadline ends it, not the longer connect timeout.
        with socket.create_server(("127.0.0.1", 0)) as silent:
            kv = self.client([f"127.0.0.1:{silent.getsockname()[1]}"], connect_timeout=60)
            started = time.monotonic()
            with self.assertRaises(grpc.RpcError) as cm:
                kv.get("k", timeout=1)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED, cm.exception.details())
            self.assertLess(time.monotonic() - started, 30, "the deadline, not the connect timeout, ended it")
        with self.assertRaises(grpc.RpcError) as cm:
            self.kv.count("x", timeout=0.000001)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)


class NewFieldsTest(PackageTest):
    """ttl_ms, touch, delete_prefix and min_replicas reach the server as keyword arguments."""

    def setUp(self):
        self.server = self.start_server()
        self.kv = self.client([self.server.addr])

    def test_ttl_touch_and_expiry(self):
        before = int(time.time() * 1000)
        meta = self.kv.set("t/k", "v", ttl_ms=60000)
        self.assertGreaterEqual(meta.expires_ms, before + 60000)
        self.assertLess(meta.expires_ms, before + 60000 + 10000)
        touched = self.kv.touch("t/k", 120000)
        self.assertGreaterEqual(touched.expires_ms, meta.expires_ms + 50000, "touch moved the expiry on")
        self.assertEqual(self.kv.get("t/k").meta.expires_ms, touched.expires_ms)

        w = self.watch(self.kv, "t/short")
        next_item = Consumer(w)
        wait_until("the watch to be created", lambda: w.started)
        self.kv.set("t/short", "v", ttl_ms=300)
        self.assertEqual(describe(next_item.next()), "UPDATE t/short=v")
        event = next_item.next()
        self.assertEqual((describe(event), event.reason), ("DELETE t/short", meshkv.EXPIRED))
        self.assertIsNone(self.kv.get("t/short"), "an expired key is gone")

    def test_delete_prefix(self):
        self.kv.update({"p/a": "1", "p/b": "2", "q/c": "3"})
        deleted = self.kv.delete_prefix("p/")
        self.assertEqual([e.key for e in deleted], [b"p/a", b"p/b"])
        self.assertEqual((self.kv.count("p/"), self.kv.count("q/")), (0, 1))

    def test_min_replicas(self):
        # A lone node has no other node to hold the write: it cannot be acknowledged with min_replicas=1.
        with self.assertRaises(grpc.RpcError):
            self.kv.set("r/k", "v", min_replicas=1, timeout=5)
        self.assertEqual(self.kv.set("r/k", "v", min_replicas=0).owner, "py-test")


class FailoverTest(PackageTest):
    def test_skips_an_endpoint_nobody_listens_on(self):
        server = self.start_server()
        dead = f"127.0.0.1:{free_port()}"
        kv = self.client([dead, server.addr])
        kv.set("k", "v")
        self.assertEqual(kv.get("k").value.bytes, b"v")

    def test_fails_over_when_the_serving_node_stops(self):
        a = self.start_server(node_id="py-a")
        b = self.start_server(node_id="py-b")
        kv = self.client([a.addr, b.addr])
        self.assertEqual(kv.set("k", "on a").owner, "py-a", "the first endpoint serves while it is up")
        self.assertIsNone(a.stop())
        self.assertEqual(kv.set("k", "on b").owner, "py-b", "the write went to the second endpoint")
        self.assertEqual(kv.get("k").value.bytes, b"on b")

    def test_a_failed_call_leaves_calls_in_flight_alone(self):
        # A node that has not synced yet (its only seed is dead) answers writes UNAVAILABLE and serves reads
        # and watches. The failed write moves the client on, and must not cut the watch open on that node.
        server = self.start_server(f"--join=127.0.0.1:{free_port()}", "--initial-sync-timeout=10m")
        kv = self.client([server.addr])
        w = self.watch(kv, "x/")
        Consumer(w)
        wait_until("the watch to be created", lambda: w.started)
        stream = w._call
        with self.assertRaises(grpc.RpcError) as cm:
            kv.set("x/a", "1")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE, cm.exception.details())
        self.assertIs(w._call, stream)
        self.assertTrue(stream.is_active(), "the watch's stream was cut by another call's failure")

    def test_every_endpoint_down(self):
        kv = self.client([f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"], connect_timeout=2)
        with self.assertRaises(grpc.RpcError) as cm:
            kv.get("k", timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("unreachable", cm.exception.details())


class WatchResumeTest(PackageTest):
    def test_resumes_after_the_stream_breaks(self):
        server = self.start_server()
        proxy = Proxy(server.addr)
        self.addCleanup(proxy.close)
        direct = self.client([server.addr])
        w = self.watch(self.client([proxy.addr]), "w/")
        c = Consumer(w)
        wait_until("the watch to be created", lambda: w.started)
        direct.set("w/a", "1")
        self.assertEqual(describe(c.next()), "UPDATE w/a=1")

        proxy.cut()
        # Written while the stream is broken (or being re-established): delivered once each, in order.
        direct.set("w/b", "2")
        direct.delete("w/a")
        direct.set("w/c", "3")
        self.assertEqual([describe(c.next()) for _ in range(3)], ["UPDATE w/b=2", "DELETE w/a", "UPDATE w/c=3"])
        self.assertEqual(w.reconnects, 1)
        self.assertGreaterEqual(proxy.connections, 2, "the client really reconnected")
        self.assertEqual(w.revision, direct.get("w/c").meta.revision)
        self.assertTrue(c.items.empty(), "nothing twice")

    def test_resumes_from_a_progress_notification(self):
        # The watch's last event (w/a) falls out of the history while 200 writes go elsewhere.
        # Resuming from w/a's revision would be OUT_OF_RANGE; the progress notifications moved the watch's
        # revision past them, so it resumes without a gap.
        server = self.start_server(HISTORY_FLAG)
        proxy = Proxy(server.addr)
        self.addCleanup(proxy.close)
        direct = self.client([server.addr])
        w = self.watch(self.client([proxy.addr]), "w/", progress_notify_ms=100)
        c = Consumer(w)
        wait_until("the watch to be created", lambda: w.started)
        direct.set("w/a", "1")
        self.assertEqual(describe(c.next()), "UPDATE w/a=1")
        for i in range(PAST_THE_HISTORY):
            head = direct.set(f"other/{i}", "x").revision
        wait_until(f"a progress notification up to revision {head}", lambda: w.revision >= head)

        proxy.cut()
        direct.set("w/b", "2")
        self.assertEqual(describe(c.next()), "UPDATE w/b=2")
        self.assertEqual(w.reconnects, 1)

    def test_without_progress_a_lost_history_is_reported(self):
        # The companion of the test above: the same writes without progress notifications cannot be resumed,
        # and the watch says so instead of skipping events silently.
        server = self.start_server(HISTORY_FLAG)
        proxy = Proxy(server.addr)
        self.addCleanup(proxy.close)
        direct = self.client([server.addr])
        w = self.watch(self.client([proxy.addr]), "w/")
        c = Consumer(w)
        wait_until("the watch to be created", lambda: w.started)
        direct.set("w/a", "1")
        self.assertEqual(describe(c.next()), "UPDATE w/a=1")
        for i in range(PAST_THE_HISTORY):
            direct.set(f"other/{i}", "x")
        proxy.cut()
        with self.assertRaises(meshkv.WatchResumeError) as cm:
            c.next()
        self.assertEqual(cm.exception.code(), grpc.StatusCode.OUT_OF_RANGE)
        self.assertIn("older than the watch history", cm.exception.details())


class WatchRestartTest(PackageTest):
    """The node restarts on its data directory: it numbers revisions past all it used, so the old ones
    cannot be resumed; the watch reports it, or with resync=True lists again and goes on."""

    def restartable_server(self):
        data = tempfile.mkdtemp(prefix="meshkv-py-data-")
        self.addCleanup(shutil.rmtree, data, ignore_errors=True)
        flags = (f"--data-dir={data}", f"--grpc-addr=127.0.0.1:{free_port()}")
        return flags, self.start_server(*flags)

    def test_restart_with_resync(self):
        flags, server = self.restartable_server()
        kv = self.client([server.addr])
        kv.set("w/a", "1")
        w = self.watch(kv, "w/", resync=True)
        c = Consumer(w)
        wait_until("the watch to be created", lambda: w.started)
        kv.set("w/b", "2")
        self.assertEqual(describe(c.next()), "UPDATE w/b=2")

        self.assertIsNone(server.stop())
        server = self.start_server(*flags)
        kv.set("w/c", "3")  # after the restart, before or after the watch re-lists
        resync = c.next()
        self.assertIsInstance(resync, meshkv.Resync)
        self.assertEqual(resync.node_id, "py-test")
        state = {e.key: e.value.bytes for e in resync.entries}
        if b"w/c" not in state:  # the re-list came first: w/c follows as an event
            self.assertEqual(describe(c.next()), "UPDATE w/c=3")
            state[b"w/c"] = b"3"
        self.assertEqual(state, {b"w/a": b"1", b"w/b": b"2", b"w/c": b"3"})
        kv.set("w/d", "4")
        self.assertEqual(describe(c.next()), "UPDATE w/d=4")
        self.assertTrue(c.items.empty())

    def test_restart_without_resync_is_reported(self):
        flags, server = self.restartable_server()
        kv = self.client([server.addr])
        w = self.watch(kv, "w/")
        c = Consumer(w)
        wait_until("the watch to be created", lambda: w.started)
        kv.set("w/a", "1")
        self.assertEqual(describe(c.next()), "UPDATE w/a=1")
        self.assertIsNone(server.stop())
        self.start_server(*flags)
        with self.assertRaises(meshkv.WatchResumeError) as cm:
            c.next()
        self.assertEqual(cm.exception.code(), grpc.StatusCode.OUT_OF_RANGE)

    def test_failover_to_another_node_resyncs(self):
        a = self.start_server(node_id="py-a")
        b = self.start_server(node_id="py-b")
        kv_b = self.client([b.addr])
        kv_b.set("w/on-b", "x")
        w = self.watch(self.client([a.addr, b.addr]), "w/", resync=True)
        c = Consumer(w)
        wait_until("the watch to be created", lambda: w.started)
        self.assertEqual(w.node_id, "py-a")
        self.assertIsNone(a.stop())
        resync = c.next()
        self.assertIsInstance(resync, meshkv.Resync)
        self.assertEqual((resync.node_id, [e.key for e in resync.entries]), ("py-b", [b"w/on-b"]))
        kv_b.set("w/later", "y")
        self.assertEqual(describe(c.next()), "UPDATE w/later=y")


class TlsTest(PackageTest):
    def setUp(self):
        self.certs = tempfile.mkdtemp(prefix="meshkv-py-certs-")
        self.addCleanup(shutil.rmtree, self.certs, ignore_errors=True)
        certs_sh = os.path.join(HERE, "..", "..", "scripts", "certs.sh")
        for args in (["create-ca"], ["create-node", "--node-id", "py-test", "--host", "127.0.0.1"],
                     ["create-client", "--name", "py-test"]):
            subprocess.run(["bash", certs_sh, *args, "--certs-dir", self.certs], check=True, capture_output=True)
        self.server = self.start_server(security=(f"--certs-dir={self.certs}", f"--client-ca={self.certs}/ca.crt",
                                                  "--client-roles=py-test=read-write"))

    def test_client_certificate(self):
        c = self.certs
        kv = self.client([self.server.addr], cacert=f"{c}/ca.crt", cert=f"{c}/client.py-test.crt",
                         key=f"{c}/client.py-test.key")
        kv.set("tls/k", "v")
        w = self.watch(kv, "tls/", start_revision=1)
        self.assertEqual(describe(next(w)), "UPDATE tls/k=v")
        self.assertEqual(w.node_id, "py-test")

        anonymous = self.client([self.server.addr], cacert=f"{c}/ca.crt")
        with self.assertRaises(grpc.RpcError) as cm:
            anonymous.get("tls/k")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        plaintext = self.client([self.server.addr], connect_timeout=2)
        with self.assertRaises(grpc.RpcError) as cm:
            plaintext.get("tls/k", timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        with self.assertRaises(ValueError):
            meshkv.Client([self.server.addr], cert=f"{c}/client.py-test.crt")  # no key


class Candidate:
    """examples/election.py as a process, and the lines it prints."""

    def __init__(self, test, *args):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "examples", "election.py"), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        test.addCleanup(self.kill)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def expect(self, prefix, timeout=30):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the candidate printed nothing within {timeout}s, want {prefix!r}...") from None
        if line is None:
            self.proc.wait()
            raise AssertionError(f"the candidate exited ({self.proc.returncode}) before printing {prefix!r}: "
                                 f"{self.proc.stderr.read()}")
        if not line.startswith(prefix):
            raise AssertionError(f"the candidate printed {line!r}, want {prefix!r}...")
        return line

    def stop_and_wait(self):
        self.proc.send_signal(signal.SIGTERM)

    def exit_code(self, timeout=30):
        return self.proc.wait(timeout)


class ElectionTest(PackageTest):
    def test_hands_over_on_resignation(self):
        # Keys that never expire: the part of the example that needs no TTL.
        server = self.start_server()
        flags = (f"--endpoints={server.addr}", "--key=election/leader", "--ttl-ms=0")
        alice = Candidate(self, *flags, "--name=alice")
        alice.expect("alice: leader (version ")
        bob = Candidate(self, *flags, "--name=bob")
        bob.expect("bob: follower (leader alice)")
        alice.stop_and_wait()
        alice.expect("alice: resigned")
        self.assertEqual(alice.exit_code(), 0)
        bob.expect("bob: leader (version ")
        bob.stop_and_wait()
        bob.expect("bob: resigned")
        self.assertEqual(bob.exit_code(), 0)
        self.assertIsNone(self.client([server.addr]).get("election/leader"), "both resigned: no leader")

    def test_survives_a_crashed_leader(self):
        server = self.start_server()
        kv = self.client([server.addr])
        flags = (f"--endpoints={server.addr}", "--key=election/leader", "--ttl-ms=1000")
        alice = Candidate(self, *flags, "--name=alice")
        alice.expect("alice: leader (version ")
        bob = Candidate(self, *flags, "--name=bob")
        bob.expect("bob: follower (leader alice)")
        with self.assertRaises(queue.Empty, msg="bob took over while alice was alive and refreshing"):
            bob.lines.get(timeout=3)  # alice's keep-alives hold the key well past its TTL
        alice.kill()  # no resignation: the key expires
        bob.expect("bob: leader (version ")
        bob.stop_and_wait()
        bob.expect("bob: resigned")
        self.assertEqual(bob.exit_code(), 0)


if __name__ == "__main__":
    sys.exit("run test_client.py (or run_tests.sh): it loads these tests and stops their servers on any exit")
