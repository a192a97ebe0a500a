#!/usr/bin/python3
"""Smoke test of meshkv-bench: brief runs against a real meshkv-server and
meshkv-bench-baseline, checking that the JSON reports are sane (requests
made, no errors, non-zero throughput, percentiles in order). It measures
nothing: benchmark numbers are not pass/fail.

Binaries come from $MESHKV_BIN_DIR (set by CTest). Standard library only.
"""

import json
import os
import signal
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("MESHKV_BIN_DIR", os.path.join(os.getcwd(), "bin"))


def start(argv, info_file, log_path):
    log = open(log_path, "wb")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited: {open(log_path).read()}")
        try:
            with open(info_file) as f:
                return p, json.load(f)
        except (OSError, ValueError):
            time.sleep(0.01)
    p.kill()
    raise RuntimeError(f"{argv[0]} did not write {info_file}")


class BenchSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="bench-smoke-")
        d = cls.dir.name
        cls.procs = []
        server, info = start([os.path.join(BIN, "meshkv-server"), "--grpc-addr=127.0.0.1:0",
                              "--mesh-addr=127.0.0.1:0", "--metrics-addr=127.0.0.1:0",
                              f"--info-file={d}/server.json", "--log-level=warning",
                              "--insecure"],
                             f"{d}/server.json", f"{d}/server.log")
        cls.procs.append(server)
        cls.server = info["grpc"]
        baseline, binfo = start([os.path.join(BIN, "meshkv-bench-baseline"),
                                 "--grpc-addr=127.0.0.1:0", f"--info-file={d}/baseline.json"],
                                f"{d}/baseline.json", f"{d}/baseline.log")
        cls.procs.append(baseline)
        cls.baseline = binfo["grpc"]

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.send_signal(signal.SIGTERM)
        for p in cls.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        cls.dir.cleanup()

    def bench(self, *flags, expect_exit=0):
        out = os.path.join(self.dir.name, "out.json")
        if os.path.exists(out):
            os.remove(out)
        argv = [os.path.join(BIN, "meshkv-bench"), f"--json={out}", "--quiet",
                "--duration=0.5s", "--warmup=0.1s", "--connections=2", "--inflight=4",
                "--keyspace=1000"] + list(flags)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, expect_exit, f"{' '.join(argv)}\n{r.stdout}\n{r.stderr}")
        if expect_exit != 0:
            return None
        with open(out) as f:
            return json.load(f)

    def assert_latency_sane(self, lat):
        self.assertGreater(lat["count"], 0)
        order = [lat["min"], lat["p50"], lat["p90"], lat["p99"], lat["p999"], lat["max"]]
        self.assertEqual(order, sorted(order), lat)
        self.assertGreater(lat["p50"], 0)
        self.assertLessEqual(lat["min"], lat["mean"])
        self.assertLessEqual(lat["mean"], lat["max"])

    def assert_sane(self, j, workload):
        self.assertEqual(j["workload"], workload)
        res = j["result"]
        self.assertEqual(res["errors"], 0, res["first_error"])
        self.assertGreater(res["requests"], 0)
        self.assertGreater(res["throughput"], 0)
        self.assertGreater(res["seconds"], 0)
        self.assert_latency_sane(res["latency_us"])
        self.assertEqual(res["latency_us"]["count"], res["requests"])
        dist = res["latency_distribution_us"]
        self.assertEqual(dist[0][0], 0)
        self.assertEqual(dist[-1][0], 100)
        for (p0, v0), (p1, v1) in zip(dist, dist[1:]):
            self.assertLess(p0, p1)
            self.assertLessEqual(v0, v1)
        return res

    def test_get_after_preload_finds_every_key(self):
        j = self.bench(f"--addr={self.server}", "--workload=get", "--preload=1000")
        self.assertEqual(j["preload"]["keys"], 1000)
        self.assertEqual(j["preload"]["errors"], 0)
        res = self.assert_sane(j, "get")
        self.assertEqual(res["found"], res["gets"])

    def test_set(self):
        res = self.assert_sane(self.bench(f"--addr={self.server}", "--workload=set",
                                          "--key-prefix=set/"), "set")
        self.assertEqual(res["sets"], res["requests"])

    def test_mixed_reports_both_kinds(self):
        res = self.assert_sane(self.bench(f"--addr={self.server}", "--workload=mixed",
                                          "--read-ratio=0.5", "--key-prefix=mixed/"), "mixed")
        self.assertGreater(res["gets"], 0)
        self.assertGreater(res["sets"], 0)
        self.assert_latency_sane(res["get_latency_us"])
        self.assert_latency_sane(res["set_latency_us"])

    def test_list(self):
        self.bench(f"--addr={self.server}", "--workload=none", "--preload=300",
                   "--key-prefix=list/")
        res = self.assert_sane(self.bench(f"--addr={self.server}", "--workload=list",
                                          "--list-limit=10", "--key-prefix=list/"), "list")
        self.assertGreater(res["list_entries"], 0)

    def test_open_loop_rate(self):
        res = self.assert_sane(self.bench(f"--addr={self.server}", "--workload=get",
                                          "--rate=400", "--duration=1s"), "get")
        # 400/s for a second, give or take scheduling on a busy machine.
        self.assertGreater(res["requests"], 200)
        self.assertLess(res["requests"], 600)

    def test_request_budget(self):
        res = self.assert_sane(self.bench(f"--addr={self.server}", "--workload=get",
                                          "--requests=500", "--warmup=0s"), "get")
        self.assertEqual(res["requests"], 500)

    def test_watch_latency(self):
        j = self.bench(f"--addr={self.server}", "--workload=watch-latency", "--rate=200",
                       "--connections=1", "--key-prefix=watch/")
        self.assert_sane(j, "watch-latency")
        w = j["watch"]
        self.assertEqual(w["error"], "")
        self.assertGreater(w["expected"], 0)
        self.assertEqual(w["missing"], 0)
        self.assert_latency_sane(w["latency_us"])

    def test_baseline_get(self):
        j = self.bench("--target=baseline", f"--addr={self.baseline}", "--workload=get")
        res = self.assert_sane(j, "get")
        self.assertEqual(res["found"], 0)

    def test_baseline_refuses_writes(self):
        self.bench("--target=baseline", f"--addr={self.baseline}", "--workload=set",
                   expect_exit=1)

    def test_wait_serving(self):
        j = self.bench(f"--addr={self.server}", "--workload=wait-serving")
        self.assertTrue(j["serving"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
