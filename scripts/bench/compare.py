#!/usr/bin/python3
"""meshkv against etcd (and the no-op gRPC ceiling) under the same load shape.

Runs real processes on loopback: meshkv-server clusters of 1, 3 and 10 nodes,
meshkv-bench-baseline, etcd clusters of 1 and 3 members with and without fsync.
Every figure comes from meshkv-bench (tools/bench) or from the servers' own
/metrics and /proc. Runs ALTERNATE between the systems compared (meshkv,
etcd, meshkv, etcd, ...) for several rounds, the first system of each pair
rotating between rounds, and ratios are the median over rounds of the ratio
within each round, so slow drift of a shared machine hits both sides alike.

Writes OUT/results.json (every run, raw), OUT/results.md (the tables),
OUT/*.dat and, with gnuplot, OUT/*.png. Standard library only.

  scripts/bench/compare.py --bin-dir build-bench/bin --out scripts/bench/results

scripts/bench/run.sh builds the binaries and calls this: one command.
"""

import argparse
import atexit
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Every process started, so that nothing outlives the script.
_PROCS = []


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def http_get(url, timeout=5, context=None):
    with urllib.request.urlopen(url, timeout=timeout, context=context) as r:
        return r.read().decode()


class Proc:
    """A child process with its output in a log file."""

    def __init__(self, argv, log_path):
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
        _PROCS.append(self)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=20):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        if self in _PROCS:
            _PROCS.remove(self)

    def rss_kb(self):
        """VmRSS and its parts (kB) from /proc/PID/status."""
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                    out[k] = int(v.split()[0])
        return out


def _cleanup():
    for p in list(_PROCS):
        try:
            p.stop(timeout=5)
        except Exception:  # best effort on the way out
            pass


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_busy_seconds():
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq + steal) / _TICK


def pids_cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK
        except (OSError, IndexError, ValueError):
            pass
    return total


def our_cpu_seconds():
    """CPU seconds of the servers this script started (live ones) and of its
    finished children (the bench runs)."""
    total = pids_cpu_seconds([p.pid for p in list(_PROCS)])
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + ru.ru_utime + ru.ru_stime


def loadavg1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_idle(max_wait, threshold=1.0):
    """Waits up to max_wait seconds for the 1-minute load average to drop below
    threshold (others share this machine). Returns the load average seen."""
    deadline = time.monotonic() + max_wait
    while loadavg1() >= threshold and time.monotonic() < deadline:
        time.sleep(5)
    return loadavg1()


def parse_metrics(text):
    """Prometheus text format -> list of (name, {labels}, value)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)', line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        try:
            out.append((m.group(1), labels, float(m.group(4))))
        except ValueError:
            pass
    return out


def metric_sum(samples, name, **labels):
    return sum(v for n, l, v in samples
               if n == name and all(l.get(k) == want for k, want in labels.items()))


# ----------------------------------------------------------------------------
# Servers


class MeshkvCluster:
    def __init__(self, bins, workdir, n, name, extra_flags=()):
        self.bins, self.n, self.name = bins, n, name
        self.dir = tempfile.mkdtemp(prefix=f"{name}-", dir=workdir)
        self.nodes = []  # (Proc, info)
        self.started = 0  # nodes ever started: names are never reused
        self.extra = list(extra_flags)
        for _ in range(n):
            self.add_node()
        for _, info in self.nodes:
            self.wait_serving(info)

    def wait_serving(self, info):
        bench_wait_serving(self.bins, info["grpc"])

    def add_node(self):
        i = self.started
        self.started += 1
        info_file = os.path.join(self.dir, f"n{i}.json")
        if os.path.exists(info_file):
            os.remove(info_file)
        argv = [os.path.join(self.bins, "meshkv-server"), "--grpc-addr=127.0.0.1:0",
                "--mesh-addr=127.0.0.1:0", "--metrics-addr=127.0.0.1:0",
                f"--info-file={info_file}", "--log-level=warning"] + self.extra
        if not any(a.startswith(("--certs-dir", "--tls-", "--insecure")) for a in self.extra):
            argv.append("--insecure")
        if self.nodes:
            argv.append(f"--join={self.nodes[0][1]['mesh']}")
        t0 = time.time()
        p = Proc(argv, os.path.join(self.dir, f"n{i}.log"))

        def ready():
            if not p.alive():
                raise RuntimeError(f"meshkv-server exited; see {p.log_path}")
            try:
                with open(info_file) as f:
                    return json.load(f)
            except (OSError, ValueError):
                return None

        info = wait_for(ready, 30, f"{info_file}", interval=0.001)
        self.nodes.append((p, info))
        return p, info, t0

    def remove_last(self):
        p, _ = self.nodes.pop()
        p.stop()

    def addrs(self):
        return [info["grpc"] for _, info in self.nodes]

    def pids(self):
        return [p.pid for p, _ in self.nodes]

    def metrics(self, i):
        return parse_metrics(http_get(f"http://127.0.0.1:{self.nodes[i][1]['metrics_port']}/metrics"))

    def stop(self):
        for p, _ in self.nodes:
            p.stop()
        self.nodes = []
        shutil.rmtree(self.dir, ignore_errors=True)


class Baseline:
    def __init__(self, bins, workdir):
        self.dir = tempfile.mkdtemp(prefix="baseline-", dir=workdir)
        info_file = os.path.join(self.dir, "info.json")
        self.p = Proc([os.path.join(bins, "meshkv-bench-baseline"), "--grpc-addr=127.0.0.1:0",
                       f"--info-file={info_file}"], os.path.join(self.dir, "log"))

        def ready():
            try:
                with open(info_file) as f:
                    return json.load(f)
            except (OSError, ValueError):
                return None

        self.info = wait_for(ready, 30, "baseline info file")

    def addrs(self):
        return [self.info["grpc"]]

    def pids(self):
        return [self.p.pid]

    def stop(self):
        self.p.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def etcd_has_no_fsync_flag():
    try:
        out = subprocess.run(["etcd", "--help"], capture_output=True, text=True, timeout=10)
        return "unsafe-no-fsync" in out.stdout + out.stderr
    except OSError:
        return False


class EtcdCluster:
    """n members on loopback. fsync=False: --unsafe-no-fsync when this etcd has
    it (3.5+), else the data directories live on tmpfs (/dev/shm), where fsync
    returns at once: the same effect for a benchmark. peer_tls: a certs dir
    (ca.crt, node.crt, node.key naming 127.0.0.1) with which the members talk
    mutual TLS to each other (--peer-client-cert-auth). client_tls: the same
    for clients (https, --client-cert-auth); then client_cert = (cert, key)
    signed by the same CA, for the health check."""

    def __init__(self, workdir, n, fsync, name, peer_tls=None, client_tls=None, client_cert=None):
        self.n, self.name, self.fsync = n, name, fsync
        no_fsync_flag = (not fsync) and etcd_has_no_fsync_flag()
        base = workdir if (fsync or no_fsync_flag) else "/dev/shm"
        self.dir = tempfile.mkdtemp(prefix=f"{name}-", dir=base)
        self.how = "fsync" if fsync else ("--unsafe-no-fsync" if no_fsync_flag else "tmpfs data dir")
        self.members = []
        ports = [(free_port(), free_port()) for _ in range(n)]
        peer_scheme = "https" if peer_tls else "http"
        cluster = ",".join(f"m{i}={peer_scheme}://127.0.0.1:{peer}" for i, (_, peer) in enumerate(ports))
        client_scheme = "https" if client_tls else "http"
        for i, (client, peer) in enumerate(ports):
            argv = ["etcd", "--name", f"m{i}", "--data-dir", os.path.join(self.dir, f"m{i}"),
                    "--listen-client-urls", f"{client_scheme}://127.0.0.1:{client}",
                    "--advertise-client-urls", f"{client_scheme}://127.0.0.1:{client}",
                    "--listen-peer-urls", f"{peer_scheme}://127.0.0.1:{peer}",
                    "--initial-advertise-peer-urls", f"{peer_scheme}://127.0.0.1:{peer}",
                    "--initial-cluster", cluster, "--initial-cluster-token", name,
                    "--initial-cluster-state", "new", "--logger", "zap", "--log-level", "error",
                    # 8 GiB: the memory run writes 1M keys; the default 2 GiB is plenty,
                    # but no alarm should ever stop a run.
                    "--quota-backend-bytes", str(8 << 30)]
            if no_fsync_flag:
                argv.append("--unsafe-no-fsync")
            if peer_tls:
                argv += ["--peer-cert-file", os.path.join(peer_tls, "node.crt"),
                         "--peer-key-file", os.path.join(peer_tls, "node.key"),
                         "--peer-trusted-ca-file", os.path.join(peer_tls, "ca.crt"),
                         "--peer-client-cert-auth"]
            if client_tls:
                argv += ["--cert-file", os.path.join(client_tls, "node.crt"),
                         "--key-file", os.path.join(client_tls, "node.key"),
                         "--trusted-ca-file", os.path.join(client_tls, "ca.crt"),
                         "--client-cert-auth"]
            self.members.append((Proc(argv, os.path.join(self.dir, f"m{i}.log")), client))

        context = None
        if client_tls:
            import ssl
            context = ssl.create_default_context(cafile=os.path.join(client_tls, "ca.crt"))
            context.load_cert_chain(*client_cert)

        def healthy():
            for p, port in self.members:
                if not p.alive():
                    raise RuntimeError(f"etcd exited; see {p.log_path}")
                try:
                    if '"health":"true"' not in http_get(f"{client_scheme}://127.0.0.1:{port}/health", 2,
                                                         context):
                        return False
                except OSError:
                    return False
            return True

        wait_for(healthy, 60, f"etcd {name} healthy", interval=0.1)

    def addrs(self):
        return [f"127.0.0.1:{port}" for _, port in self.members]

    def pids(self):
        return [p.pid for p, _ in self.members]

    def stop(self):
        for p, _ in self.members:
            p.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------------------
# The load generator


def bench(bins, workdir, target, addrs, workload, *, connections=4, inflight=16, duration=3,
          warmup=1, extra=(), timeout=None):
    out = os.path.join(workdir, "bench.json")
    argv = [os.path.join(bins, "meshkv-bench"), f"--target={target}",
            f"--addr={','.join(addrs)}", f"--workload={workload}",
            f"--connections={connections}", f"--inflight={inflight}",
            f"--duration={duration}s", f"--warmup={warmup}s", f"--json={out}", "--quiet"]
    argv += list(extra)
    if os.path.exists(out):
        os.remove(out)
    r = subprocess.run(argv, capture_output=True, text=True,
                       timeout=timeout or (duration + warmup + 600))
    if r.returncode != 0:
        raise RuntimeError(f"meshkv-bench failed ({r.returncode}): {' '.join(argv)}\n{r.stderr}")
    with open(out) as f:
        return json.load(f)


def bench_wait_serving(bins, addr, timeout=120, extra=()):
    r = subprocess.run([os.path.join(bins, "meshkv-bench"), "--workload=wait-serving",
                        f"--addr={addr}", f"--timeout={timeout}s", "--quiet",
                        "--json=/dev/stdout", *extra], capture_output=True, text=True,
                       timeout=timeout + 30)
    if r.returncode != 0:
        raise RuntimeError(f"{addr} not SERVING: {r.stdout} {r.stderr}")
    return json.loads(r.stdout)


def shape(concurrency):
    """Total in-flight requests -> (connections, in-flight per connection)."""
    conns = min(4, concurrency)
    return conns, concurrency // conns


def shape3(concurrency):
    """The same for three nodes: connections a multiple of 3, so that every
    node gets its share (the concurrency is then only roughly the level's)."""
    if concurrency < 3:
        return concurrency, 1
    conns = 3 if concurrency < 24 else 6
    return conns, max(1, round(concurrency / conns))


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ----------------------------------------------------------------------------
# The comparison


class Comparison:
    def __init__(self, args):
        self.a = args
        self.bins = os.path.abspath(args.bin_dir)
        self.out = os.path.abspath(args.out)
        os.makedirs(self.out, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="meshkv-compare-")
        self.runs = []  # every bench run, tagged
        self.results = {}
        self.machine = None  # measured at the start; kept when re-rendering
        self.settings = None
        self.generated = None

    def run(self, tag, system, rnd, target, addrs, workload, servers=None, **kw):
        notable = [x for x in kw.get("extra", ()) if x.startswith(("--rate", "--linear"))]
        log(f"  round {rnd} {system:>15} {workload:<13} {kw.get('connections', 4)}x"
            f"{kw.get('inflight', 16)} {' '.join(notable)}")
        pids = servers.pids() if servers else []
        t0, busy0, ours0 = time.monotonic(), cpu_busy_seconds(), our_cpu_seconds()
        server0 = pids_cpu_seconds(pids)
        j = bench(self.bins, self.work, target, addrs, workload, **kw)
        dt = time.monotonic() - t0
        server_cores = (pids_cpu_seconds(pids) - server0) / dt if dt > 0 else None
        # CPU used by other processes on the machine meanwhile: the noise.
        foreign = (cpu_busy_seconds() - busy0) - (our_cpu_seconds() - ours0)
        rec = {"tag": tag, "system": system, "round": rnd, "bench": j,
               "foreign_cpu_cores": max(0.0, foreign / dt) if dt > 0 else None,
               # CPU of the servers under test over the whole bench run (warmup
               # included, at the same rate): their cost per request.
               "server_cpu_cores": server_cores}
        self.runs.append(rec)
        res = j.get("result", {})
        if res.get("errors"):
            log(f"    {res['errors']} errors: {res.get('first_error')}")
        return j

    def idle(self):
        if self.a.wait_idle > 0:
            load = wait_idle(self.a.wait_idle)
            log(f"  load average {load:.2f}")
            self.results.setdefault("loadavg_at_rounds", []).append(load)

    def pairs_order(self, rnd, items):
        """Alternate who goes first, round by round."""
        return items if rnd % 2 == 0 else list(reversed(items))

    # -- reads and writes on one node, the concurrency sweep --------------------
    def phase_single(self):
        a = self.a
        log("phase 1: one node: Get vs serializable Range vs no-op; Set vs Put")
        mk = MeshkvCluster(self.bins, self.work, 1, "meshkv1")
        base = Baseline(self.bins, self.work)
        e1 = EtcdCluster(self.work, 1, True, "etcd1")
        e1n = EtcdCluster(self.work, 1, False, "etcd1-nofsync")
        self.results["etcd_no_fsync_how"] = e1n.how
        try:
            for target, c in (("meshkv", mk), ("etcd", e1)):
                j = bench(self.bins, self.work, target, c.addrs(), "none",
                          extra=[f"--preload={a.keyspace}", f"--keyspace={a.keyspace}"] + a.kv_flags)
                log(f"  preloaded {target}: {j['preload']['keys']} keys "
                    f"({j['preload']['throughput']:.0f}/s)")
            common = [f"--keyspace={a.keyspace}"] + a.kv_flags
            for rnd in range(a.rounds):
                self.idle()
                for conc in a.levels:
                    conns, infl = shape(conc)
                    kw = dict(connections=conns, inflight=infl, duration=a.duration,
                              warmup=a.warmup, extra=common)
                    for system, target, c in self.pairs_order(rnd, [
                            ("meshkv-1", "meshkv", mk), ("etcd-1", "etcd", e1),
                            ("baseline", "baseline", base)]):
                        self.run(f"get/{conc}", system, rnd, target, c.addrs(), "get", servers=c, **kw)
                    for system, target, c in self.pairs_order(rnd, [
                            ("meshkv-1", "meshkv", mk), ("etcd-1", "etcd", e1),
                            ("etcd-1-nofsync", "etcd", e1n)]):
                        self.run(f"set/{conc}", system, rnd, target, c.addrs(), "set", servers=c, **kw)
                # etcd's default Range, for reference, at the headline concurrency.
                conns, infl = shape(a.headline)
                self.run(f"get-linearizable/{a.headline}", "etcd-1", rnd, "etcd", e1.addrs(), "get",
                         servers=e1,
                         connections=conns, inflight=infl, duration=a.duration, warmup=a.warmup,
                         extra=common + ["--linearizable"])
                # Latency at equal, moderate load (open loop).
                for system, target, c in self.pairs_order(rnd, [
                        ("meshkv-1", "meshkv", mk), ("etcd-1", "etcd", e1),
                        ("baseline", "baseline", base)]):
                    self.run(f"get-rate/{a.fixed_rate}", system, rnd, target, c.addrs(), "get", servers=c,
                             connections=4, inflight=64, duration=a.duration, warmup=a.warmup,
                             extra=common + [f"--rate={a.fixed_rate}"])
        finally:
            for c in (mk, base, e1, e1n):
                c.stop()

    # -- three nodes: writes and watch ------------------------------------------
    def phase_three(self):
        a = self.a
        log("phase 2: three nodes: Set vs Put, set-to-watch-event latency")
        mk = MeshkvCluster(self.bins, self.work, 3, "meshkv3")
        e3 = EtcdCluster(self.work, 3, True, "etcd3")
        e3n = EtcdCluster(self.work, 3, False, "etcd3-nofsync")
        try:
            common = [f"--keyspace={a.keyspace}"] + a.kv_flags
            for rnd in range(a.rounds):
                self.idle()
                for conc in a.levels:
                    conns, infl = shape3(conc)
                    kw = dict(connections=conns, inflight=infl, duration=a.duration,
                              warmup=a.warmup, extra=common)
                    for system, target, c in self.pairs_order(rnd, [
                            ("meshkv-3", "meshkv", mk), ("etcd-3", "etcd", e3),
                            ("etcd-3-nofsync", "etcd", e3n)]):
                        self.run(f"set3/{conc}", system, rnd, target, c.addrs(), "set", servers=c, **kw)
                for system, target, c in self.pairs_order(rnd, [
                        ("meshkv-3", "meshkv", mk), ("etcd-3", "etcd", e3),
                        ("etcd-3-nofsync", "etcd", e3n)]):
                    addrs = c.addrs()
                    self.run("watch3", system, rnd, target, [addrs[0]], "watch-latency", servers=c,
                             connections=1, inflight=16, duration=a.watch_duration,
                             warmup=a.warmup,
                             extra=common + [f"--rate={a.watch_rate}", f"--watch-addr={addrs[-1]}",
                                             "--key-prefix=watch/"])
        finally:
            for c in (mk, e3, e3n):
                c.stop()

    # -- memory at 1M keys, then catch-up of a fresh node ----------------------
    def phase_memory(self):
        a = self.a
        n = a.memory_keys
        raw = n * (a.key_size + a.value_size)
        log(f"phase 3: memory with {n} keys of {a.value_size} B; catch-up of a fresh node")
        mem = {"keys": n, "raw_bytes": raw, "meshkv": [], "etcd": [], "catchup": []}
        self.results["memory"] = mem
        flags = [f"--keyspace={n}", f"--preload={n}", "--connections=4", "--inflight=64"] + a.kv_flags
        for rnd in range(a.memory_rounds):
            self.idle()
            for system in self.pairs_order(rnd, ["meshkv", "etcd"]):
                if system == "meshkv":
                    c = MeshkvCluster(self.bins, self.work, 1, "meshkv-mem")
                    p = c.nodes[0][0]
                else:
                    c = EtcdCluster(self.work, 1, True, "etcd-mem")
                    p = c.members[0][0]
                try:
                    rss0 = p.rss_kb()
                    j = bench(self.bins, self.work, system, c.addrs(), "none", extra=flags,
                              timeout=3600)
                    time.sleep(a.settle)
                    rss = p.rss_kb()
                    rec = {"round": rnd, "rss_kb": rss, "rss_empty_kb": rss0,
                           "preload": j["preload"]}
                    if system == "meshkv":
                        m = c.metrics(0)
                        rec["store_keys"] = metric_sum(m, "meshkv_store_keys")
                        rec["store_bytes"] = metric_sum(m, "meshkv_store_bytes")
                        rec["catchup"] = self.catchup(c, n, rnd)
                        mem["catchup"].append(rec["catchup"])
                    mem[system].append(rec)
                    log(f"  round {rnd} {system}: RSS {rss['VmRSS'] / 1024:.0f} MiB "
                        f"(anon {rss.get('RssAnon', 0) / 1024:.0f} MiB) for {raw / 2**20:.0f} MiB raw")
                finally:
                    c.stop()

    def catchup(self, cluster, n, rnd):
        """A fresh node joins a node holding n keys: seconds until SERVING."""
        out = []
        for attempt in range(self.a.catchup_tries):
            p, info, t0 = cluster.add_node()
            w = bench_wait_serving(self.bins, info["grpc"], timeout=300)
            seconds = w["serving_unix_s"] - t0
            keys = metric_sum(cluster.metrics(len(cluster.nodes) - 1), "meshkv_store_keys")
            out.append({"seconds": seconds, "keys_when_serving": keys})
            log(f"  round {rnd} catch-up {attempt}: SERVING after {seconds:.2f} s "
                f"with {keys:.0f} keys")
            cluster.remove_last()
        return out

    # -- frames per write -------------------------------------------------------
    def phase_frames(self):
        a = self.a
        log("phase 4: mesh frames per write")
        res = {}
        self.results["frames"] = res
        for n in a.frame_nodes:
            self.idle()
            c = MeshkvCluster(self.bins, self.work, n, f"meshkv{n}")
            try:
                # Let the mesh settle (connections, initial anti-entropy).
                time.sleep(2)
                res[str(n)] = {}
                for mode, extra in (("saturated", []), ("paced", [f"--rate={a.frame_rate}"])):
                    before = [c.metrics(i) for i in range(n)]
                    j = bench(self.bins, self.work, "meshkv", c.addrs(), "set",
                              connections=max(n, 4), inflight=8, warmup=0,
                              extra=[f"--keyspace={a.keyspace}",
                                     f"--requests={a.frame_writes}"] + a.kv_flags + extra,
                              timeout=600)
                    writes = j["result"]["requests"]

                    def applied():
                        return [metric_sum(c.metrics(i), "meshkv_store_revision") for i in range(n)]

                    # Wait until every node has applied every write (revisions stop moving
                    # and agree in count), so every frame of the run is counted.
                    prev = None
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:
                        cur = applied()
                        if cur == prev:
                            break
                        prev = cur
                        time.sleep(0.5)
                    after = [c.metrics(i) for i in range(n)]

                    def delta(name, **labels):
                        return sum(metric_sum(after[i], name, **labels) -
                                   metric_sum(before[i], name, **labels) for i in range(n))

                    originated = delta("meshkv_replication_writes_originated_total")
                    frames = delta("meshkv_mesh_frames_sent_total", type="write_batch")
                    batches = delta("meshkv_replication_batch_size_count")
                    # meshkv_replication_batch_size counts every WriteBatch frame sent,
                    # so it stands in when the per-peer family has no samples.
                    source = "meshkv_mesh_frames_sent_total{type=write_batch}"
                    if frames == 0 and batches > 0:
                        frames = batches
                        source = "meshkv_replication_batch_size_count (frames_sent_total empty)"
                    rec = {
                        "nodes": n, "mode": mode, "writes": writes,
                        "writes_originated": originated,
                        "write_batch_frames": frames,
                        "frames_source": source,
                        "batches": batches,
                        "writes_batched": delta("meshkv_replication_batch_size_sum"),
                        "write_batch_bytes": delta("meshkv_mesh_bytes_sent_total", type="write_batch"),
                        "all_frames": delta("meshkv_mesh_frames_sent_total"),
                        "duplicates_dropped": delta("meshkv_replication_duplicates_dropped_total"),
                        "writes_received": delta("meshkv_replication_writes_received_total"),
                        "throughput": j["result"]["throughput"],
                    }
                    w = originated or writes
                    rec["frames_per_write"] = frames / w if w else None
                    rec["batches_per_write"] = rec["batches"] / w if w else None
                    rec["deliveries_per_write"] = rec["writes_batched"] / w if w else None
                    rec["bound"] = 2 * (n - 1)
                    res[str(n)][mode] = rec
                    log(f"  N={n} {mode}: {writes} writes, {frames:.0f} write_batch frames "
                        f"({rec['frames_per_write']:.3f}/write, bound {2 * (n - 1)}), "
                        f"{rec['deliveries_per_write']:.2f} record sends/write")
            finally:
                c.stop()

    # -- summary ------------------------------------------------------------------
    def series(self, tag, system, key=lambda j: j["result"]["throughput"]):
        """{round: value} for one tag and system."""
        return {r["round"]: key(r["bench"]) for r in self.runs
                if r["tag"] == tag and r["system"] == system}

    def peak(self, prefix, system):
        """{round: best throughput over the concurrency sweep}."""
        best = {}
        for r in self.runs:
            if r["system"] == system and r["tag"].startswith(prefix + "/"):
                t = r["bench"]["result"]["throughput"]
                best[r["round"]] = max(best.get(r["round"], 0), t)
        return best

    @staticmethod
    def ratio(num, den):
        rs = [num[k] / den[k] for k in num if k in den and den[k]]
        return median(rs)

    def summarize(self):
        a = self.a
        S = {}
        for tag_prefix, systems in (("get", ["meshkv-1", "etcd-1", "baseline"]),
                                    ("set", ["meshkv-1", "etcd-1", "etcd-1-nofsync"]),
                                    ("set3", ["meshkv-3", "etcd-3", "etcd-3-nofsync"])):
            for s in systems:
                S[f"{tag_prefix}_peak/{s}"] = self.peak(tag_prefix, s)
        get_mk, get_etcd, get_base = (S["get_peak/meshkv-1"], S["get_peak/etcd-1"],
                                      S["get_peak/baseline"])
        set_mk, set_etcd, set_etcdn = (S["set3_peak/meshkv-3"], S["set3_peak/etcd-3"],
                                       S["set3_peak/etcd-3-nofsync"])
        p99 = lambda j: j["watch"]["latency_us"]["p99"] / 1000.0
        w_mk = self.series("watch3", "meshkv-3", p99)
        w_etcd = self.series("watch3", "etcd-3", p99)
        w_etcdn = self.series("watch3", "etcd-3-nofsync", p99)
        mem = self.results.get("memory", {})
        mk_rss = median([r["rss_kb"]["VmRSS"] * 1024 for r in mem.get("meshkv", [])])
        etcd_rss = median([r["rss_kb"]["VmRSS"] * 1024 for r in mem.get("etcd", [])])
        etcd_anon = median([r["rss_kb"].get("RssAnon", 0) * 1024 for r in mem.get("etcd", [])])
        raw = mem.get("raw_bytes")
        catch = median([x["seconds"] for c in mem.get("catchup", []) for x in c])
        catch_keys = min([x["keys_when_serving"] for c in mem.get("catchup", []) for x in c],
                         default=None)
        frames = self.results.get("frames", {})

        def m(d):
            return median(list(d.values()))

        rows = []

        def row(name, ours, ref, ratio, target, met, note=""):
            rows.append({"metric": name, "meshkv": ours, "reference": ref, "ratio": ratio,
                         "target": target, "met": met, "note": note})

        r = self.ratio(get_mk, get_etcd)
        row("Get throughput, 1 node (peak over concurrency, req/s)",
            m(get_mk), f"etcd serializable Range: {fmt(m(get_etcd))}", r, ">= 3x",
            r is not None and r >= 3)
        r = self.ratio(get_mk, get_base)
        row("Get throughput vs no-op gRPC ceiling (req/s)", m(get_mk),
            f"baseline no-op Get: {fmt(m(get_base))}", r, ">= 0.8x", r is not None and r >= 0.8)
        r = self.ratio(set_mk, set_etcd)
        row("Set throughput, 3 nodes (peak, req/s)", m(set_mk),
            f"etcd Put, 3 members, fsync: {fmt(m(set_etcd))}", r, ">= 5x",
            r is not None and r >= 5)
        r2 = self.ratio(set_mk, set_etcdn)
        row("Set throughput, 3 nodes vs etcd without fsync (req/s)", m(set_mk),
            f"etcd Put, 3 members, no fsync: {fmt(m(set_etcdn))}", r2, "(for reference)", None)
        wm = m(w_mk)
        row("Set-to-watch-event p99 across 3 nodes (ms)", wm,
            f"etcd 3 members: {fmt(m(w_etcd))} (no fsync: {fmt(m(w_etcdn))})",
            self.ratio(w_mk, w_etcd), "< 5 ms", wm is not None and wm < 5)
        if mk_rss and raw:
            row(f"RSS at {mem['keys']:,} keys x {a.value_size} B (MiB), vs raw bytes",
                mk_rss / 2**20, f"raw keys+values: {raw / 2**20:.1f}", mk_rss / raw, "<= 2x",
                mk_rss / raw <= 2)
        if mk_rss and etcd_rss:
            row("RSS vs etcd with the same data (MiB)", mk_rss / 2**20,
                f"etcd VmRSS: {etcd_rss / 2**20:.1f} (anon {etcd_anon / 2**20:.1f})",
                mk_rss / etcd_rss, "<= 0.5x", mk_rss / etcd_rss <= 0.5)
        if catch is not None:
            row(f"Fresh node catch-up to SERVING, {mem['keys']:,} keys (s)", catch,
                f"keys on the new node when SERVING: {catch_keys:,.0f}", None, "< 10 s",
                catch < 10 and catch_keys is not None and catch_keys >= mem["keys"])
        for n, modes in sorted(frames.items(), key=lambda kv: int(kv[0])):
            for mode in ("saturated", "paced"):
                f = modes.get(mode)
                if not f:
                    continue
                row(f"write_batch frames per write, N={n}, {mode}", f["frames_per_write"],
                    f"{f['batches_per_write']:.3f} batches/write, "
                    f"{f['deliveries_per_write']:.2f} record sends/write",
                    None, f"<= {f['bound']}", f["frames_per_write"] is not None and
                    f["frames_per_write"] <= f["bound"])
        self.results["rows"] = rows
        self.results["peaks"] = {k: v for k, v in S.items()}

    # -- output -------------------------------------------------------------------
    def latency_table(self):
        """Median over rounds of each system's figures, per tag."""
        out = []
        tags = []
        for r in self.runs:
            if (r["tag"], r["system"]) not in tags:
                tags.append((r["tag"], r["system"]))
        for tag, system in tags:
            rs = [r["bench"] for r in self.runs if r["tag"] == tag and r["system"] == system]
            res = [j["result"] for j in rs]
            lat = [x["latency_us"] for x in res]
            item = {"tag": tag, "system": system,
                    "concurrency": rs[0]["config"]["concurrency"],
                    "throughput": median([x["throughput"] for x in res]),
                    "p50_ms": median([l["p50"] / 1000 for l in lat]),
                    "p90_ms": median([l["p90"] / 1000 for l in lat]),
                    "p99_ms": median([l["p99"] / 1000 for l in lat]),
                    "p999_ms": median([l["p999"] / 1000 for l in lat]),
                    "errors": sum(x["errors"] for x in res),
                    "client_cpu_cores": median([x.get("client_cpu_cores", 0) for x in res]),
                    "foreign_cpu_cores": median([r["foreign_cpu_cores"] for r in self.runs
                                                 if r["tag"] == tag and r["system"] == system]),
                    "server_cpu_cores": median([r.get("server_cpu_cores") for r in self.runs
                                                if r["tag"] == tag and r["system"] == system])}
            if item["server_cpu_cores"] and item["throughput"]:
                item["server_us_per_request"] = item["server_cpu_cores"] / item["throughput"] * 1e6
            if "watch" in rs[0]:
                wl = [j["watch"]["latency_us"] for j in rs]
                item["watch_p50_ms"] = median([l["p50"] / 1000 for l in wl])
                item["watch_p99_ms"] = median([l["p99"] / 1000 for l in wl])
                item["watch_p999_ms"] = median([l["p999"] / 1000 for l in wl])
                item["watch_missing"] = sum(j["watch"]["missing"] for j in rs)
            out.append(item)
        return out

    def write_outputs(self, plots=True):
        a = self.a
        details = self.latency_table()
        if self.generated is None:
            self.generated = datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds")
        doc = {
            "generated": self.generated,
            "machine": self.machine or machine_info(),
            "settings": self.settings or {k: v for k, v in vars(a).items() if k != "kv_flags"},
            "results": self.results,
            "details": details,
            "runs": self.runs,
        }
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(doc, f, separators=(",", ":"))
        md = [f"Generated {doc['generated']} on {doc['machine']['cpus']} CPUs "
              f"({doc['machine']['cpu_model']}), load average at the start "
              f"{doc['machine']['loadavg']}. {a.rounds} rounds, medians of per-round ratios.", "",
              "| metric | meshkv | reference | meshkv / reference | target | met |",
              "|---|---|---|---|---|---|"]
        for r in self.results.get("rows", []):
            met = "n/a" if r["met"] is None else ("**yes**" if r["met"] else "**no**")
            ratio = "" if r["ratio"] is None else f"{r['ratio']:.3g}x"
            md.append(f"| {r['metric']} | {fmt(r['meshkv'])} | {r['reference']} | {ratio} | "
                      f"{r['target']} | {met} |")
        md += ["", "Per run shape (medians over rounds; latency from the scheduled send time):", "",
               "| run | system | in flight | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors "
               "| server CPU (cores) | server CPU us/req | bench CPU (cores) | others' CPU (cores) |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for d in details:
            md.append(f"| {d['tag']} | {d['system']} | {d['concurrency']} | {fmt(d['throughput'])} | "
                      f"{fmt(d['p50_ms'])} | {fmt(d['p90_ms'])} | {fmt(d['p99_ms'])} | "
                      f"{fmt(d['p999_ms'])} | {d['errors']} | {fmt(d.get('server_cpu_cores'))} | "
                      f"{fmt(d.get('server_us_per_request'))} | {fmt(d['client_cpu_cores'])} | "
                      f"{fmt(d['foreign_cpu_cores'])} |")
        by_level = []
        for conc in a.levels:
            cells = []
            for tag, num, den in (("get", "meshkv-1", "etcd-1"), ("get", "meshkv-1", "baseline"),
                                  ("set", "meshkv-1", "etcd-1"), ("set3", "meshkv-3", "etcd-3"),
                                  ("set3", "meshkv-3", "etcd-3-nofsync")):
                r = self.ratio(self.series(f"{tag}/{conc}", num), self.series(f"{tag}/{conc}", den))
                cells.append("-" if r is None else f"{r:.2f}")
            by_level.append(f"| {conc} | " + " | ".join(cells) + " |")
        md += ["", "Throughput ratios by requests in flight (median of per-round ratios):", "",
               "| in flight | Get / etcd Range | Get / no-op | Set / etcd Put, 1 node "
               "| Set / etcd Put, 3 nodes | Set / etcd Put, 3 nodes, no fsync |",
               "|---|---|---|---|---|---|"] + by_level
        watch = [d for d in details if "watch_p99_ms" in d]
        if watch:
            md += ["", "| set-to-event (3 nodes) | p50 ms | p99 ms | p99.9 ms | events missing |",
                   "|---|---|---|---|---|"]
            for d in watch:
                md.append(f"| {d['system']} | {fmt(d['watch_p50_ms'])} | {fmt(d['watch_p99_ms'])} | "
                          f"{fmt(d['watch_p999_ms'])} | {d['watch_missing']} |")
        fr = self.results.get("frames", {})
        if fr:
            md += ["", "| nodes | load | writes | write_batch frames | frames/write | batches/write "
                   "| record sends/write | bound 2(N-1) |", "|---|---|---|---|---|---|---|---|"]
            for n, modes in sorted(fr.items(), key=lambda kv: int(kv[0])):
                for mode, f in modes.items():
                    md.append(f"| {n} | {mode} | {f['writes']} | {f['write_batch_frames']:.0f} | "
                              f"{fmt(f['frames_per_write'])} | {fmt(f['batches_per_write'])} | "
                              f"{fmt(f['deliveries_per_write'])} | {f['bound']} |")
        if self.results.get("errors"):
            md += ["", "Phases that failed: " + "; ".join(self.results["errors"])]
        with open(os.path.join(self.out, "results.md"), "w") as f:
            f.write("\n".join(md) + "\n")
        log(f"wrote {self.out}/results.json and results.md")
        if plots:
            plot(self, details)


def fmt(x):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def machine_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    etcd_version = ""
    try:
        etcd_version = subprocess.run(["etcd", "--version"], capture_output=True,
                                      text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        pass
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"cpus": os.cpu_count(), "cpu_model": model, "mem_gib": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "loadavg": " ".join(open("/proc/loadavg").read().split()[:3]),
            "etcd": etcd_version}


# ----------------------------------------------------------------------------
# Plots


def plot(cmp, details):
    gnuplot = shutil.which("gnuplot")
    out = cmp.out
    a = cmp.a
    # Throughput vs concurrency: medians over rounds.
    series = {}
    for d in details:
        prefix, _, conc = d["tag"].partition("/")
        if prefix in ("get", "set", "set3") and conc.isdigit():
            series.setdefault((prefix, d["system"]), []).append((d["concurrency"], d["throughput"]))
    names = {("get", "meshkv-1"): "meshkv Get, 1 node", ("get", "baseline"): "no-op gRPC Get (ceiling)",
             ("get", "etcd-1"): "etcd serializable Range, 1 member",
             ("set", "meshkv-1"): "meshkv Set, 1 node", ("set", "etcd-1"): "etcd Put, 1 member",
             ("set", "etcd-1-nofsync"): "etcd Put, 1 member, no fsync",
             ("set3", "meshkv-3"): "meshkv Set, 3 nodes", ("set3", "etcd-3"): "etcd Put, 3 members",
             ("set3", "etcd-3-nofsync"): "etcd Put, 3 members, no fsync"}
    files = {}
    for key, pts in series.items():
        fn = f"tput_{key[0]}_{key[1]}.dat"
        with open(os.path.join(out, fn), "w") as f:
            f.write("# concurrency throughput\n")
            for c, t in sorted(pts):
                f.write(f"{c} {t}\n")
        files[key] = fn
    # Latency distributions: the run of median throughput among rounds.
    def dist(tag, system, field="result"):
        rs = [r for r in cmp.runs if r["tag"] == tag and r["system"] == system]
        if not rs:
            return None
        rs.sort(key=lambda r: r["bench"]["result"]["throughput"])
        j = rs[len(rs) // 2]["bench"]
        d = (j.get("watch") if field == "watch" else j["result"])["latency_distribution_us"]
        fn = f"lat_{tag.replace('/', '_')}_{system}_{field}.dat"
        with open(os.path.join(out, fn), "w") as f:
            f.write("# percentile latency_ms x=1/(1-p)\n")
            for p, us in d:
                if p < 100:
                    f.write(f"{p} {us / 1000} {1 / (1 - p / 100)}\n")
        return fn

    lat_reads = [(dist(f"get/{a.headline}", s), n) for s, n in
                 (("meshkv-1", "meshkv Get"), ("baseline", "no-op Get"), ("etcd-1", "etcd Range"))]
    lat_rate = [(dist(f"get-rate/{a.fixed_rate}", s), n) for s, n in
                (("meshkv-1", "meshkv Get"), ("baseline", "no-op Get"), ("etcd-1", "etcd Range"))]
    lat_writes = [(dist(f"set3/{a.headline}", s), n) for s, n in
                  (("meshkv-3", "meshkv Set, 3 nodes"), ("etcd-3", "etcd Put, 3 members"),
                   ("etcd-3-nofsync", "etcd Put, 3 members, no fsync"))]
    lat_watch = [(dist("watch3", s, "watch"), n) for s, n in
                 (("meshkv-3", "meshkv"), ("etcd-3", "etcd"), ("etcd-3-nofsync", "etcd, no fsync"))]
    if not gnuplot:
        log("gnuplot not found: .dat files written, no PNGs (apt-get install gnuplot-nox)")
        return
    gp = [f'set terminal pngcairo size 900,560 noenhanced font ",10"' if _has_cairo(gnuplot)
          else 'set terminal png size 900,560 noenhanced',
          "set grid", "set key top left box opaque", f"cd '{out}'"]

    def style(system):
        """meshkv solid, etcd dashed, the no-op ceiling dotted."""
        if "meshkv" in system:
            return "lw 2.5 dt 1"
        if "etcd" in system:
            return "lw 1.5 dt 2"
        return "lw 1.5 dt 3"

    def tput_plot(png, title, keys):
        cmds = [f"set output '{png}'", f"set title '{title}'", "set logscale x 2",
                "set xlabel 'requests in flight (connections x in-flight each)'",
                "set ylabel 'requests/s (median of rounds)'", "set yrange [0:*]", "unset logscale y"]
        parts = [f"'{files[k]}' using 1:2 with linespoints {style(k[1])} title '{names[k]}'"
                 for k in keys if k in files]
        if parts:
            gp.extend(cmds + ["plot " + ", ".join(parts)])

    def lat_plot(png, title, items):
        items = [(f, n) for f, n in items if f]
        if not items:
            return
        gp.extend([f"set output '{png}'", f"set title '{title}'", "set logscale x 10",
                   "set logscale y 10", "set xlabel 'percentile'", "set ylabel 'latency (ms)'",
                   "set yrange [*:*]",
                   "set xtics ('0%%' 1, '50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000)",
                   "plot " + ", ".join(f"'{f}' using 3:2 with lines {style(n)} title '{n}'"
                                       for f, n in items), "unset xtics", "set xtics"])

    tput_plot("throughput_reads.png", "Reads: throughput vs concurrency (1 node)",
              [("get", "meshkv-1"), ("get", "baseline"), ("get", "etcd-1")])
    tput_plot("throughput_writes.png", "Writes: throughput vs concurrency",
              [("set", "meshkv-1"), ("set3", "meshkv-3"), ("set", "etcd-1"),
               ("set", "etcd-1-nofsync"), ("set3", "etcd-3"), ("set3", "etcd-3-nofsync")])
    lat_plot("latency_reads.png", f"Read latency, closed loop, {a.headline} in flight", lat_reads)
    lat_plot("latency_reads_rate.png", f"Read latency at {a.fixed_rate:.0f} req/s (open loop)",
             lat_rate)
    lat_plot("latency_writes.png", f"Write latency, 3 nodes, {a.headline} in flight", lat_writes)
    lat_plot("latency_watch.png",
             f"Set-to-watch-event latency across 3 nodes at {a.watch_rate:.0f} sets/s", lat_watch)
    script = os.path.join(out, "plots.gp")
    with open(script, "w") as f:
        f.write("\n".join(gp) + "\n")
    r = subprocess.run([gnuplot, script], capture_output=True, text=True)
    if r.returncode != 0:
        log(f"gnuplot failed: {r.stderr}")
    else:
        log(f"plots: {', '.join(sorted(p for p in os.listdir(out) if p.endswith('.png')))}")


def _has_cairo(gnuplot):
    r = subprocess.run([gnuplot, "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in r.stdout + r.stderr


# ----------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build-bench", "bin"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3, help="seconds measured per run")
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--levels", default="1,4,16,64,256",
                    help="requests in flight for the concurrency sweep")
    ap.add_argument("--headline", type=int, default=64,
                    help="concurrency of the latency tables and plots (one of --levels)")
    ap.add_argument("--fixed-rate", type=float, default=4000, help="open-loop Get rate (req/s)")
    ap.add_argument("--keyspace", type=int, default=100000)
    ap.add_argument("--key-size", type=int, default=16)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--watch-rate", type=float, default=1000)
    ap.add_argument("--watch-duration", type=float, default=5)
    ap.add_argument("--memory-keys", type=int, default=1000000)
    ap.add_argument("--memory-rounds", type=int, default=2)
    ap.add_argument("--catchup-tries", type=int, default=2, help="fresh nodes per memory round")
    ap.add_argument("--settle", type=float, default=3, help="seconds before reading RSS")
    ap.add_argument("--frame-nodes", default="3,10")
    ap.add_argument("--frame-writes", type=int, default=30000)
    ap.add_argument("--frame-rate", type=float, default=1000, help="paced writes/s")
    ap.add_argument("--phases", default="single,three,memory,frames")
    ap.add_argument("--wait-idle", type=float, default=0,
                    help="before each round wait up to this many seconds for a load average < 1")
    ap.add_argument("--render-only", action="store_true",
                    help="redo tables and plots from OUT/results.json, without running anything")
    ap.add_argument("--quick", action="store_true",
                    help="a fast, small run to check the machinery (numbers meaningless)")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.duration, a.warmup, a.levels = 1, 1, 0.3, "1,16"
        a.headline, a.keyspace, a.memory_keys, a.memory_rounds = 16, 10000, 20000, 1
        a.catchup_tries, a.settle, a.frame_writes, a.watch_duration = 1, 0.5, 2000, 1
        a.frame_nodes = "3"
    a.levels = [int(x) for x in a.levels.split(",")]
    a.frame_nodes = [int(x) for x in a.frame_nodes.split(",")]
    a.kv_flags = [f"--key-size={a.key_size}", f"--value-size={a.value_size}"]
    for b in ("meshkv-server", "meshkv-bench", "meshkv-bench-baseline"):
        if not os.access(os.path.join(a.bin_dir, b), os.X_OK):
            sys.exit(f"{b} not found in {a.bin_dir}: build it first (scripts/bench/run.sh does)")
    if not shutil.which("etcd"):
        sys.exit("etcd not found (Debian: apt-get install etcd-server)")
    c = Comparison(a)
    if a.render_only:
        with open(os.path.join(c.out, "results.json")) as f:
            doc = json.load(f)
        c.runs, c.results = doc["runs"], doc["results"]
        c.machine, c.generated, c.settings = doc["machine"], doc["generated"], doc["settings"]
        c.summarize()
        c.write_outputs()
        return
    c.machine = machine_info()
    log(f"machine: {c.machine}")
    started = time.monotonic()
    try:
        for name in a.phases.split(","):
            phase = {"single": c.phase_single, "three": c.phase_three,
                     "memory": c.phase_memory, "frames": c.phase_frames}[name]
            try:
                phase()
            except Exception as e:  # one failed phase must not lose the others
                log(f"phase {name} FAILED: {e!r}")
                c.results.setdefault("errors", []).append(f"{name}: {e!r}")
                _cleanup()
            # Save as we go: a later failure keeps what was measured.
            c.results["elapsed_s"] = round(time.monotonic() - started)
            c.summarize()
            c.write_outputs(plots=False)
        c.write_outputs()
    finally:
        _cleanup()
        shutil.rmtree(c.work, ignore_errors=True)
    with open(os.path.join(c.out, "results.md")) as f:
        print(f.read())


if __name__ == "__main__":
    main()
