#!/usr/bin/python3
"""End-to-end tests of the Python client against a real meshkv-server.

Every KeyValue RPC and its status codes through the raw stubs, Watch,
list-then-watch, and the example programs; test_package.py (loaded here) tests
the meshkv.Client package. Needs:
  MESHKV_BIN_DIR   the directory containing meshkv-server (e.g. build/bin)
  the meshkv package importable (installed, or its stubs on PYTHONPATH)
Run through clients/python/run_tests.sh, which pip-installs the package into a
virtual environment first, or by hand:
  /usr/bin/python3 -m pip install --no-build-isolation --target /tmp/meshkv-py ./clients/python
  MESHKV_BIN_DIR=build/bin PYTHONPATH=/tmp/meshkv-py /usr/bin/python3 clients/python/test_client.py -v
Only the standard library, grpc and the generated stubs are used (Debian's
python3-grpcio has no health or reflection modules).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

try:
    from meshkv.v1 import kv_pb2, kv_pb2_grpc
except ImportError as e:
    sys.exit(f"test_client.py: cannot import the meshkv stubs ({e}); run clients/python/run_tests.sh, or install "
             "the package: /usr/bin/python3 -m pip install --no-build-isolation --target DIR ./clients/python "
             "and set PYTHONPATH=DIR")

HERE = os.path.dirname(os.path.abspath(__file__))
RPC_TIMEOUT = 10.0  # every RPC, and every wait for a watch event
START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0

_live_servers = set()  # stopped on any exit path, even a signal


def _kill_live_servers():
    for server in list(_live_servers):
        server.kill()


def _on_signal(signum, _frame):
    _kill_live_servers()
    os._exit(128 + signum)


def server_binary():
    bin_dir = os.environ.get("MESHKV_BIN_DIR")
    if not bin_dir:
        raise RuntimeError("MESHKV_BIN_DIR is not set: point it at the directory that contains meshkv-server "
                           "(e.g. MESHKV_BIN_DIR=$PWD/build/bin)")
    path = os.path.join(bin_dir, "meshkv-server")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError(f"MESHKV_BIN_DIR={bin_dir}: no executable meshkv-server there")
    return path


class Server:
    """One meshkv-server on 127.0.0.1 port 0, node ID "py-test"."""

    def __init__(self, *flags, security=("--insecure",)):
        self.dir = tempfile.mkdtemp(prefix="meshkv-py-test-")
        info_path = os.path.join(self.dir, "info.json")
        self.log_path = os.path.join(self.dir, "server.log")
        # If this process dies without cleaning up (SIGKILL), the server dies too.
        guard = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*guard, server_binary(), "--grpc-addr=127.0.0.1:0", "--mesh-addr=127.0.0.1:0", "--metrics-addr=",
                 "--node-id=py-test", f"--info-file={info_path}", *security, *flags],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        _live_servers.add(self)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            info = self._read_info(info_path)
            if info:
                self.node_id, self.addr = info["node_id"], info["grpc"]
                return
            if self.proc.poll() is not None:
                self.kill()
                raise RuntimeError(f"meshkv-server exited ({self.proc.returncode}) before listening; "
                                   f"its log:\n{self.logs()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"meshkv-server did not write {info_path} within {START_TIMEOUT}s; "
                                   f"its log:\n{self.logs()}")
            time.sleep(0.02)

    @staticmethod
    def _read_info(path):
        try:
            with open(path) as f:
                info = json.load(f)
        except (OSError, ValueError):
            return None
        return info if info.get("grpc") else None

    def logs(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read().rstrip()
        except OSError as e:
            return f"(cannot read {self.log_path}: {e})"

    def stop(self):
        """SIGTERM; returns an error message unless the server exits 0 in time."""
        problem = None
        if self.proc.poll() is not None:
            problem = f"meshkv-server exited ({self.proc.returncode}) before the test ended"
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                if self.proc.wait(STOP_TIMEOUT) != 0:
                    problem = f"meshkv-server exited {self.proc.returncode} on SIGTERM, want 0"
            except subprocess.TimeoutExpired:
                problem = f"meshkv-server still running {STOP_TIMEOUT}s after SIGTERM; killed it"
        if problem:
            problem += f"; its log:\n{self.logs()}"
        self.kill()
        return problem

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        _live_servers.discard(self)
        shutil.rmtree(self.dir, ignore_errors=True)


def bytes_value(s):
    return kv_pb2.Value(bytes=s.encode() if isinstance(s, str) else s)


class ServerTest(unittest.TestCase):
    """Each test gets a fresh server (they start in milliseconds) and a stub."""

    server_flags = ()

    def setUp(self):
        self.server = self.start_server(*self.server_flags)
        self.kv = self.stub(self.server)

    def start_server(self, *flags):
        server = Server(*flags)

        def stop():
            problem = server.stop()
            if problem:
                self.fail(problem)

        self.addCleanup(stop)
        return server

    def stub(self, server):
        channel = grpc.insecure_channel(server.addr)
        self.addCleanup(channel.close)  # runs before the server's stop (cleanups are LIFO)
        self.channel = channel
        return kv_pb2_grpc.KeyValueStub(channel)

    # --- helpers -----------------------------------------------------------

    def set(self, key, value):
        return self.kv.Set(kv_pb2.SetRequest(key=key.encode(), value=bytes_value(value)), timeout=RPC_TIMEOUT).meta

    def get(self, key):
        """The entry of a present key; fails the test when absent."""
        resp = self.kv.Get(kv_pb2.GetRequest(key=key.encode() if isinstance(key, str) else key),
                           timeout=RPC_TIMEOUT)
        self.assertTrue(resp.found, f"Get({key!r}): found=false, want the key")
        return resp.entry

    def assert_absent(self, key):
        resp = self.kv.Get(kv_pb2.GetRequest(key=key.encode()), timeout=RPC_TIMEOUT)
        self.assertFalse(resp.found, f"Get({key!r}) = {resp}, want found=false")
        self.assertFalse(resp.HasField("entry"), f"Get({key!r}) = {resp}, want no entry")

    def assert_bytes(self, value, want, what=""):
        self.assertEqual(value.WhichOneof("kind"), "bytes", f"{what}: value {value}, want bytes {want!r}")
        self.assertEqual(value.bytes, want.encode() if isinstance(want, str) else want, what)

    def assert_fields(self, value, want, what=""):
        self.assertEqual(value.WhichOneof("kind"), "mapping", f"{what}: value {value}, want a mapping")
        self.assertEqual({k: v.decode() for k, v in value.mapping.fields.items()}, want, what)

    def assert_code(self, code, rpc, request, what=""):
        with self.assertRaises(grpc.RpcError, msg=f"{what}: succeeded, want {code.name}") as cm:
            rpc(request, timeout=RPC_TIMEOUT)
        self.assertEqual(cm.exception.code(), code, f"{what}: {cm.exception.details()}")

    def list_all(self, **kwargs):
        """A whole List stream: (entries, the revision of each page, the last page's more)."""
        entries, revisions, more = [], [], False
        for page in self.kv.List(kv_pb2.ListRequest(**kwargs), timeout=RPC_TIMEOUT):
            entries.extend(page.entries)
            revisions.append(page.revision)
            more = page.more
        return entries, revisions, more

    def watch(self, **kwargs):
        """Starts a watch and checks its created response; returns (watcher, created revision)."""
        call = self.kv.Watch(kv_pb2.WatchRequest(**kwargs), timeout=3 * RPC_TIMEOUT)
        self.addCleanup(call.cancel)
        first = next(call)
        self.assertTrue(first.created, f"first Watch response {first}, want created=true")
        self.assertEqual(len(first.events), 0, "the created response carries no events")
        return Watcher(self, call), first.revision


class Watcher:
    def __init__(self, test, call):
        self.test, self.call, self.pending = test, call, []

    def next(self):
        while not self.pending:
            resp = next(self.call)  # the call's deadline bounds the wait
            self.test.assertFalse(resp.created, f"a second created response: {resp}")
            self.pending = list(resp.events)
        return self.pending.pop(0)

    def expect(self, want):
        """Reads the next event and checks it: "UPDATE key=value" or "DELETE key"."""
        ev = self.next()
        got = f"{kv_pb2.Event.Type.Name(ev.type)} {ev.entry.key.decode()}"
        if ev.type == kv_pb2.Event.UPDATE:
            got += "=" + ev.entry.value.bytes.decode()
        self.test.assertEqual(got, want, f"Watch event {ev}")
        return ev


class HealthTest(ServerTest):
    def test_serving(self):
        # Debian's python3-grpcio lacks grpc_health: call the method with raw bytes.
        # HealthCheckResponse{status: SERVING} is field 1, varint 1.
        check = self.channel.unary_unary("/grpc.health.v1.Health/Check")
        self.assertEqual(check(b"", timeout=RPC_TIMEOUT), b"\x08\x01")


class SetGetTest(ServerTest):
    def test_set_get(self):
        before = int(time.time() * 1000)
        meta = self.set("greeting", "hello")
        self.assertEqual(meta.owner, "py-test")
        self.assertGreater(meta.revision, 0)
        self.assertLess(abs(meta.timestamp_ms - before), 5000, "timestamp_ms is about now")
        self.assertEqual(meta.lease_expires_ms - meta.timestamp_ms, 3600 * 1000, "leasing is on, for 1 h")

        e = self.get("greeting")
        self.assertEqual(e.key, b"greeting")
        self.assert_bytes(e.value, "hello", "Get(greeting)")
        self.assertEqual(e.meta, meta, "Get's meta is the Set's")

        meta2 = self.set("greeting", "bonjour")
        self.assertGreater(meta2.revision, meta.revision)
        self.assert_bytes(self.get("greeting").value, "bonjour", "Get after overwrite")

        # Keys are bytes: UTF-8 and binary keys round-trip; empty values are values.
        for key in ("测试".encode(), b"bin\x00\xff\x01"):
            self.kv.Set(kv_pb2.SetRequest(key=key, value=bytes_value(b"v:" + key)), timeout=RPC_TIMEOUT)
            e = self.get(key)
            self.assertEqual(e.key, key)
            self.assert_bytes(e.value, b"v:" + key, f"Get({key!r})")
        self.set("empty", "")
        self.assert_bytes(self.get("empty").value, "", "Get(empty)")

        self.assert_absent("absent")
        resp = self.kv.Get(kv_pb2.GetRequest(key=b"absent"), timeout=RPC_TIMEOUT)
        self.assertGreaterEqual(resp.revision, meta2.revision, "Get.revision is the node's revision")


class StatusCodeTest(ServerTest):
    def test_status_codes(self):
        kv = self.kv
        self.set("plain", "bytes value")
        big_key = b"k" * 4097
        one = kv_pb2.Mapping(fields={"f": b"1"})
        cases = [
            ("Get empty key", kv.Get, kv_pb2.GetRequest(), grpc.StatusCode.INVALID_ARGUMENT),
            ("Set empty key", kv.Set, kv_pb2.SetRequest(value=bytes_value("x")), grpc.StatusCode.INVALID_ARGUMENT),
            ("Set without a value", kv.Set, kv_pb2.SetRequest(key=b"novalue"), grpc.StatusCode.INVALID_ARGUMENT),
            ("Set key over 4 KiB", kv.Set, kv_pb2.SetRequest(key=big_key, value=bytes_value("x")),
             grpc.StatusCode.INVALID_ARGUMENT),
            ("Set value over 1 MiB", kv.Set, kv_pb2.SetRequest(key=b"plain", value=bytes_value(b"v" * (2**20 + 1))),
             grpc.StatusCode.INVALID_ARGUMENT),
            ("Delete absent key", kv.Delete, kv_pb2.DeleteRequest(key=b"absent"), grpc.StatusCode.NOT_FOUND),
            ("Delete empty key", kv.Delete, kv_pb2.DeleteRequest(), grpc.StatusCode.INVALID_ARGUMENT),
            ("Pop absent key", kv.Pop, kv_pb2.PopRequest(key=b"absent"), grpc.StatusCode.NOT_FOUND),
            ("ApplyDelta onto bytes", kv.ApplyDelta, kv_pb2.ApplyDeltaRequest(key=b"plain", delta=one),
             grpc.StatusCode.FAILED_PRECONDITION),
            ("ApplyDelta empty key", kv.ApplyDelta, kv_pb2.ApplyDeltaRequest(delta=one),
             grpc.StatusCode.INVALID_ARGUMENT),
            ("Update with a key twice", kv.Update, kv_pb2.UpdateRequest(items=[
                kv_pb2.SetRequest(key=b"dup", value=bytes_value("1")),
                kv_pb2.SetRequest(key=b"dup", value=bytes_value("2"))]), grpc.StatusCode.INVALID_ARGUMENT),
        ]
        for what, rpc, request, code in cases:
            with self.subTest(what):
                self.assert_code(code, rpc, request, what)

        # Refused requests change nothing.
        self.assert_bytes(self.get("plain").value, "bytes value", "plain after refusals")
        for key in ("novalue", "dup"):
            self.assert_absent(key)
        # A key over the limit cannot exist: even Get refuses it.
        self.assert_code(grpc.StatusCode.INVALID_ARGUMENT, self.kv.Get,
                         kv_pb2.GetRequest(key=big_key), "get of an oversized key")
        # The limits themselves are allowed.
        kv.Set(kv_pb2.SetRequest(key=b"k" * 4096, value=bytes_value(b"v" * 2**20)), timeout=RPC_TIMEOUT)


class DeleteTest(ServerTest):
    def test_delete(self):
        set_meta = self.set("doomed", "bye")
        resp = self.kv.Delete(kv_pb2.DeleteRequest(key=b"doomed"), timeout=RPC_TIMEOUT)
        self.assertEqual(resp.prev.key, b"doomed")
        self.assert_bytes(resp.prev.value, "bye", "Delete prev")
        self.assertGreater(resp.meta.revision, set_meta.revision)
        self.assert_absent("doomed")
        self.assert_code(grpc.StatusCode.NOT_FOUND, self.kv.Delete, kv_pb2.DeleteRequest(key=b"doomed"),
                         "second Delete")
        self.set("doomed", "back")
        self.assert_bytes(self.get("doomed").value, "back", "Get after re-Set")


class UpdateTest(ServerTest):
    def test_update(self):
        resp = self.kv.Update(kv_pb2.UpdateRequest(items=[
            kv_pb2.SetRequest(key=b"u/b", value=bytes_value("2")),
            kv_pb2.SetRequest(key=b"u/a", value=bytes_value("1")),
            kv_pb2.SetRequest(key=b"u/c", value=kv_pb2.Value(mapping=kv_pb2.Mapping(fields={"x": b"y"}))),
        ]), timeout=RPC_TIMEOUT)
        self.assertEqual(len(resp.metas), 3)
        for meta, key in zip(resp.metas, ("u/b", "u/a", "u/c")):  # in the request's order
            self.assertEqual(self.get(key).meta, meta, f"the meta for {key}")
        self.assert_bytes(self.get("u/b").value, "2")
        self.assert_bytes(self.get("u/a").value, "1")
        self.assert_fields(self.get("u/c").value, {"x": "y"})

        # All or nothing: one invalid item and none is written.
        self.assert_code(grpc.StatusCode.INVALID_ARGUMENT, self.kv.Update, kv_pb2.UpdateRequest(items=[
            kv_pb2.SetRequest(key=b"u/a", value=bytes_value("changed")),
            kv_pb2.SetRequest(key=b"", value=bytes_value("bad")),
            kv_pb2.SetRequest(key=b"u/new", value=bytes_value("new")),
        ]), "Update with an empty key")
        self.assert_bytes(self.get("u/a").value, "1", "u/a after a refused Update")
        self.assert_absent("u/new")


class ApplyDeltaTest(ServerTest):
    def delta(self, key, fields):
        return self.kv.ApplyDelta(kv_pb2.ApplyDeltaRequest(
            key=key.encode(), delta=kv_pb2.Mapping(fields={k: v.encode() for k, v in fields.items()})),
            timeout=RPC_TIMEOUT).entry

    def test_apply_delta(self):
        e = self.delta("profile", {"name": "ada", "lang": "en"})
        self.assert_fields(e.value, {"name": "ada", "lang": "en"}, "first ApplyDelta creates the mapping")
        self.assertEqual((e.key, e.meta.owner), (b"profile", "py-test"))
        want = {"name": "ada", "lang": "fr", "city": "paris"}
        self.assert_fields(self.delta("profile", {"lang": "fr", "city": "paris"}).value, want, "merge")
        self.assert_fields(self.get("profile").value, want, "Get after ApplyDelta")

        # An empty delta onto an absent key creates {}.
        self.assert_fields(self.delta("blank", {}).value, {}, "empty delta")
        self.assert_fields(self.get("blank").value, {}, "Get(blank)")

        # A whole-value Set replaces the mapping by bytes; a delta is then refused.
        self.set("profile", "flat")
        self.assert_code(grpc.StatusCode.FAILED_PRECONDITION, self.kv.ApplyDelta,
                         kv_pb2.ApplyDeltaRequest(key=b"profile", delta=kv_pb2.Mapping(fields={"a": b"b"})),
                         "ApplyDelta onto bytes")
        self.assert_bytes(self.get("profile").value, "flat", "profile after a refused delta")


class PopTest(ServerTest):
    def test_pop(self):
        self.set("job", "payload")
        e = self.kv.Pop(kv_pb2.PopRequest(key=b"job"), timeout=RPC_TIMEOUT).entry
        self.assertEqual(e.key, b"job")
        self.assert_bytes(e.value, "payload", "Pop")
        self.assert_absent("job")
        self.assert_code(grpc.StatusCode.NOT_FOUND, self.kv.Pop, kv_pb2.PopRequest(key=b"job"), "second Pop")

    def test_pop_item(self):  # a fresh, empty node
        self.assert_code(grpc.StatusCode.NOT_FOUND, self.kv.PopItem, kv_pb2.PopItemRequest(), "PopItem on empty")
        for k in ("q/b", "q/c", "q/a"):
            self.set(k, "v" + k)
        for want in ("q/a", "q/b", "q/c"):  # key order
            e = self.kv.PopItem(kv_pb2.PopItemRequest(), timeout=RPC_TIMEOUT).entry
            self.assertEqual(e.key.decode(), want, "PopItem pops the first key in key order")
            self.assert_bytes(e.value, "v" + want)
            self.assert_absent(want)
        self.assert_code(grpc.StatusCode.NOT_FOUND, self.kv.PopItem, kv_pb2.PopItemRequest(),
                         "PopItem once all are popped")


class ListTest(ServerTest):
    def test_list(self):
        for k in ("fruit/cherry", "fruit/apple", "veg/leek", "fruit/banana", "fruits"):
            self.set(k, "v:" + k)
        last = self.set("fruit/date", "v:fruit/date")

        entries, revisions, more = self.list_all(prefix=b"fruit/")
        self.assertEqual([e.key.decode() for e in entries],
                         ["fruit/apple", "fruit/banana", "fruit/cherry", "fruit/date"])
        for e in entries:
            self.assert_bytes(e.value, b"v:" + e.key)
            self.assertEqual(e.meta.owner, "py-test")
            self.assertGreater(e.meta.revision, 0)
        self.assertEqual((revisions, more), ([last.revision], False))

        entries, _, _ = self.list_all(prefix=b"fruit/", keys_only=True)
        self.assertEqual(len(entries), 4)
        for e in entries:
            self.assertFalse(e.HasField("value"), f"keys_only: {e.key} has a value")

        entries, _, more = self.list_all(prefix=b"fruit/", limit=3)
        self.assertEqual(([e.key for e in entries], more), ([b"fruit/apple", b"fruit/banana", b"fruit/cherry"], True))
        entries, _, more = self.list_all(prefix=b"fruit/", limit=3, start_after=entries[-1].key)
        self.assertEqual(([e.key for e in entries], more), ([b"fruit/date"], False))

        self.kv.Delete(kv_pb2.DeleteRequest(key=b"veg/leek"), timeout=RPC_TIMEOUT)
        entries, _, _ = self.list_all()
        self.assertEqual([e.key.decode() for e in entries],
                         ["fruit/apple", "fruit/banana", "fruit/cherry", "fruit/date", "fruits"])

    def test_many_pages(self):
        n = 1200  # more than one page of 512
        self.kv.Update(kv_pb2.UpdateRequest(items=[
            kv_pb2.SetRequest(key=b"p/%05d" % i, value=bytes_value(str(i))) for i in range(n)]), timeout=RPC_TIMEOUT)
        entries, revisions, more = self.list_all(prefix=b"p/")
        self.assertEqual(([e.key for e in entries], more), ([b"p/%05d" % i for i in range(n)], False))
        self.assertGreater(len(revisions), 1, "several pages")
        self.assertEqual(set(revisions), {revisions[0]}, "every page carries the listing's revision")


class WatchTest(ServerTest):
    def test_watch(self):
        self.set("w/old", "before the watch")
        w, created = self.watch(prefix=b"w/", prev_value=True)
        self.assertEqual(created, 2, "the watch starts after the node's revision (empty: 1)")

        m1 = self.set("w/a", "1")
        self.set("other/x", "outside the prefix")
        m2 = self.set("w/a", "2")
        self.kv.Delete(kv_pb2.DeleteRequest(key=b"w/a"), timeout=RPC_TIMEOUT)
        self.kv.ApplyDelta(kv_pb2.ApplyDeltaRequest(key=b"w/m", delta=kv_pb2.Mapping(fields={"f": b"v"})),
                           timeout=RPC_TIMEOUT)
        self.set("w/sentinel", "end")

        ev = w.expect("UPDATE w/a=1")
        self.assertEqual((ev.entry.meta.revision, ev.entry.meta.owner), (m1.revision, "py-test"))
        self.assertFalse(ev.HasField("prev_value"), "first write: no prev_value")
        ev = w.expect("UPDATE w/a=2")  # other/x is filtered out
        self.assertEqual(ev.entry.meta.revision, m2.revision)
        self.assert_bytes(ev.prev_value, "1", "prev_value of the overwrite")
        ev = w.expect("DELETE w/a")
        self.assertFalse(ev.entry.HasField("value"), "a delete event carries no value")
        self.assert_bytes(ev.prev_value, "2", "prev_value of the delete")
        ev = w.next()
        self.assertEqual((ev.type, ev.entry.key), (kv_pb2.Event.UPDATE, b"w/m"))
        self.assert_fields(ev.entry.value, {"f": "v"}, "ApplyDelta event")
        w.expect("UPDATE w/sentinel=end")  # nothing else came in between

    def test_list_then_watch(self):
        for k in ("lw/a", "lw/b", "lw/c"):
            self.set(k, "v1")
        entries, revisions, _ = self.list_all(prefix=b"lw/")
        self.assertEqual(len(entries), 3)
        list_rev = revisions[0]

        # Changes after the listing but before the watch starts must not be lost.
        self.set("lw/b", "v2")
        self.kv.Delete(kv_pb2.DeleteRequest(key=b"lw/a"), timeout=RPC_TIMEOUT)
        self.set("lw/d", "v1")

        w, created = self.watch(prefix=b"lw/", start_revision=list_rev)
        self.assertEqual(created, list_rev, "created.revision is the start revision")
        self.set("lw/e", "live")
        last = list_rev
        for want in ("UPDATE lw/b=v2", "DELETE lw/a", "UPDATE lw/d=v1", "UPDATE lw/e=live"):
            rev = w.expect(want).entry.meta.revision
            self.assertGreater(rev, last, f"{want}: revision order, after the listing")
            last = rev


class WatchHistoryTest(ServerTest):
    server_flags = ("--watch-history=4",)

    def test_out_of_range(self):
        for i in range(20):
            self.set(f"h/{i}", "x")
        call = self.kv.Watch(kv_pb2.WatchRequest(start_revision=1), timeout=RPC_TIMEOUT)
        with self.assertRaises(grpc.RpcError) as cm:
            next(call)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.OUT_OF_RANGE, cm.exception.details())
        # Recent revisions are still served.
        w, _ = self.watch(start_revision=20)  # h/19 is revision 21: the empty store is 1
        w.expect("UPDATE h/19=x")


class ExampleTest(ServerTest):
    def test_example(self):
        # A write before the example's watch starts must not show up in its events.
        self.set("demo/a", "old")
        proc = subprocess.run(
            [sys.executable, os.path.join(HERE, "example.py"), f"--addr={self.server.addr}", "--prefix=demo/"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, f"example.py failed:\n{proc.stdout}{proc.stderr}")
        self.assertEqual(proc.stdout.splitlines(), [
            'watching "demo/" after revision 2',
            'set demo/a = "1" (revision 3)',
            'set demo/b = "2" (revision 4)',
            'set demo/c = "3" (revision 5)',
            'get demo/a = "1" (owner py-test, revision 3)',
            'delete demo/b (revision 6)',
            'event UPDATE demo/a = "1" (revision 3)',
            'event UPDATE demo/b = "2" (revision 4)',
            'event UPDATE demo/c = "3" (revision 5)',
            'event DELETE demo/b (revision 6)',
        ])
        # What the example wrote is really there.
        self.assert_bytes(self.get("demo/a").value, "1")
        self.assert_bytes(self.get("demo/c").value, "3")
        self.assert_absent("demo/b")

    def test_example_unreachable(self):
        # A port nobody listens on: the example fails with a message, not a hang.
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, os.path.join(HERE, "example.py"), f"--addr=127.0.0.1:{port}"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("UNAVAILABLE", proc.stderr)


class TlsExampleTest(unittest.TestCase):
    """example.py against a server with TLS on gRPC and client certificates (scripts/certs.sh)."""

    def setUp(self):
        self.certs = tempfile.mkdtemp(prefix="meshkv-py-certs-")
        self.addCleanup(shutil.rmtree, self.certs, ignore_errors=True)
        certs_sh = os.path.join(HERE, "..", "..", "scripts", "certs.sh")
        for args in (["create-ca"], ["create-node", "--node-id", "py-test", "--host", "127.0.0.1"],
                     ["create-client", "--name", "py-test"]):
            subprocess.run(["bash", certs_sh, *args, "--certs-dir", self.certs], check=True, capture_output=True)
        self.server = Server(security=(f"--certs-dir={self.certs}", f"--client-ca={self.certs}/ca.crt",
                                       "--client-roles=py-test=read-write"))

        def stop():
            problem = self.server.stop()
            if problem:
                self.fail(problem)

        self.addCleanup(stop)

    def example(self, *flags):
        return subprocess.run([sys.executable, os.path.join(HERE, "example.py"), f"--addr={self.server.addr}",
                               "--prefix=tls/", *flags], capture_output=True, text=True, timeout=60)

    def test_example_over_tls(self):
        c = self.certs
        proc = self.example(f"--cacert={c}/ca.crt", f"--cert={c}/client.py-test.crt", f"--key={c}/client.py-test.key")
        self.assertEqual(proc.returncode, 0, f"example.py failed:\n{proc.stdout}{proc.stderr}")
        lines = proc.stdout.splitlines()
        self.assertEqual(len(lines), 10, proc.stdout)
        self.assertEqual(lines[4], 'get tls/a = "1" (owner py-test, revision 2)')
        self.assertEqual(lines[-1], "event DELETE tls/b (revision 5)")
        # Without a client certificate: refused, saying why.
        proc = self.example(f"--cacert={c}/ca.crt")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("UNAUTHENTICATED", proc.stderr)
        # Plaintext does not reach the TLS port.
        proc = self.example("--timeout=3")
        self.assertNotEqual(proc.returncode, 0, proc.stdout)



if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        server_binary()
    except RuntimeError as e:
        sys.exit(f"test_client.py: {e}")
    # The package's tests share this module's servers (and their clean-up on a signal): they import it as
    # test_client, which must be this very module, not a second copy.
    sys.modules["test_client"] = sys.modules["__main__"]
    from test_package import *  # noqa: F401,F403 - their TestCase classes, for unittest.main to find
    try:
        unittest.main()
    finally:
        _kill_live_servers()
