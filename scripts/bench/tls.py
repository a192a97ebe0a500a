#!/usr/bin/python3
"""What TLS costs (issue 10), measured side by side in one run.

Systems (every run a fresh cluster on loopback):

  meshkv-plain     the mesh on plain TCP (--insecure), gRPC plain
  meshkv-tls       the mesh on mutual TLS 1.3 (--certs-dir; certificates from
                   scripts/certs.sh, one per node); with --grpc-tls, gRPC on
                   TLS too, with client certificates (--client-ca, the client's
                   CN given read-write by --client-roles)
  etcd-plain       etcd as shipped (fsync), plain peers and clients
  etcd-tls         etcd with mutual TLS between members (--peer-cert-file
                   --peer-key-file --peer-trusted-ca-file --peer-client-cert-auth);
                   with --grpc-tls, for clients too (--cert-file --key-file
                   --trusted-ca-file --client-cert-auth)

Workloads, at the same client concurrency for every system:

  get1    Get on one node (preloaded keys): the gRPC path alone (etcd only
          with --grpc-tls: peer TLS changes nothing for one member's clients)
  set3    Set spread over three nodes: every write crosses the mesh twice
  watch3  set-to-watch-event latency across three nodes: Set at --watch-rate
          on the first node, Watch on the last

and for each the servers' CPU per request (from /proc: it does not depend on
who wins the machine's cores). The systems alternate run by run, the first of
them rotating from round to round; ratios (tls / plain) are the median over
rounds of the ratio within a round, with the range of the per-round ratios
beside them: the noise of a shared machine.

--grpc-tls: "off" keeps the benchmark client on plain gRPC (the mesh-only
comparison, for a meshkv-server that serves gRPC without TLS: one built before
gRPC TLS); "on" makes meshkv-bench use --cacert/--cert/--key against
meshkv-tls and etcd-tls; "auto" (default) picks "on" when meshkv-bench knows
--cacert.

  scripts/bench/tls.py --bin-dir build-bench/bin --out scripts/bench/results
  scripts/bench/run.sh --tls           # builds, runs this, renders the doc

Writes OUT/NAME.json (every run, raw) and OUT/NAME.md (the tables that
docs/benchmarks.md shows; --name, default tls: docs/benchmarks.md shows tls.md
and then every tls_*.md). Standard library only.
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (servers, the load generator, CPU accounting)

HERE = os.path.dirname(os.path.abspath(__file__))
CERTS_SH = os.path.join(compare.REPO, "scripts", "certs.sh")
WORKLOADS = ("get1", "set3", "watch3")
# (numerator, denominator, workload, measure, target text, the ratio it must reach)
TARGETS = [
    ("meshkv-tls", "meshkv-plain", "get1", "throughput", ">= 0.85x (TLS costs <= 15%)", 0.85),
    ("meshkv-tls", "meshkv-plain", "set3", "throughput", ">= 0.80x (TLS costs <= 20%)", 0.80),
]


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True, text=True)


class Certs:
    """A CA, one node certificate per meshkv node (node IDs bench-n0..), one for
    the etcd members, and a client certificate, all for 127.0.0.1."""

    def __init__(self, work, nodes):
        self.dir = os.path.join(work, "certs")
        ca_key = os.path.join(self.dir, "ca", "ca.key")
        sh(CERTS_SH, "create-ca", "--certs-dir", os.path.join(self.dir, "ca"))
        for i in range(nodes):
            sh(CERTS_SH, "create-node", "--certs-dir", self.node(i), "--ca-key", ca_key,
               "--node-id", self.node_id(i), "--host", "127.0.0.1", "--host", "localhost")
        sh(CERTS_SH, "create-node", "--certs-dir", self.etcd(), "--ca-key", ca_key,
           "--node-id", "etcd", "--host", "127.0.0.1", "--host", "localhost")
        sh(CERTS_SH, "create-client", "--certs-dir", self.client(), "--ca-key", ca_key,
           "--name", "bench")

    def node(self, i):
        return os.path.join(self.dir, f"n{i}")

    @staticmethod
    def node_id(i):
        return f"bench-n{i}"

    def etcd(self):
        return os.path.join(self.dir, "etcd")

    def client(self):
        return os.path.join(self.dir, "client")

    def client_flags(self):
        d = self.client()
        return [f"--cacert={d}/ca.crt", f"--cert={d}/client.bench.crt", f"--key={d}/client.bench.key"]


class TlsMeshkvCluster(compare.MeshkvCluster):
    """meshkv nodes with mutual TLS on the mesh: node i presents certs.node(i),
    whose URI SAN names node ID bench-n<i>. With client_flags (gRPC on TLS),
    clients authenticate too: the cluster CA signs them, CN bench may write."""

    def __init__(self, bins, workdir, n, name, certs, client_flags):
        self.certs, self.client_flags = certs, client_flags
        super().__init__(bins, workdir, n, name)

    def add_node(self):
        i = self.started
        d = self.certs.node(i)
        self.extra = [f"--certs-dir={d}", f"--node-id={self.certs.node_id(i)}"]
        if self.client_flags:
            self.extra += [f"--client-ca={d}/ca.crt", "--client-roles=bench=read-write"]
        return super().add_node()

    def wait_serving(self, info):
        compare.bench_wait_serving(self.bins, info["grpc"], extra=self.client_flags)


def bench_knows_tls(bins):
    r = subprocess.run([os.path.join(bins, "meshkv-bench"), "--helpfull"], capture_output=True,
                       text=True, timeout=30)
    return "--cacert" in r.stdout + r.stderr


class Run:
    def __init__(self, args):
        self.a = args
        self.bins = os.path.abspath(args.bin_dir)
        self.work = tempfile.mkdtemp(prefix="meshkv-tls-")
        self.certs = Certs(self.work, 3)
        self.grpc_tls = args.grpc_tls == "on" or (args.grpc_tls == "auto" and bench_knows_tls(self.bins))
        self.systems = ["meshkv-plain", "meshkv-tls"] + ([] if args.no_etcd else ["etcd-plain", "etcd-tls"])
        self.runs = []

    def cluster(self, system, n):
        if system == "meshkv-plain":
            return compare.MeshkvCluster(self.bins, self.work, n, f"plain{n}"), []
        if system == "meshkv-tls":
            flags = self.certs.client_flags() if self.grpc_tls else []
            return TlsMeshkvCluster(self.bins, self.work, n, f"tls{n}", self.certs, flags), flags
        if system == "etcd-plain":
            return compare.EtcdCluster(self.work, n, True, f"{system}{n}"), []
        if not self.grpc_tls:
            return compare.EtcdCluster(self.work, n, True, f"{system}{n}", peer_tls=self.certs.etcd()), []
        d = self.certs.client()
        return compare.EtcdCluster(self.work, n, True, f"{system}{n}", peer_tls=self.certs.etcd(),
                                   client_tls=self.certs.etcd(),
                                   client_cert=(f"{d}/client.bench.crt", f"{d}/client.bench.key")), \
            self.certs.client_flags()

    def measure(self, system, workload, rnd):
        a = self.a
        n = 1 if workload == "get1" else 3
        c, client = self.cluster(system, n)
        target = "etcd" if system.startswith("etcd") else "meshkv"
        common = [f"--keyspace={a.keyspace}", f"--value-size={a.value_size}"] + client
        try:
            addrs = c.addrs()
            if workload == "get1":
                compare.bench(self.bins, self.work, target, addrs, "none",
                              extra=common + [f"--preload={a.keyspace}"])
                conns, infl = compare.shape(a.concurrency)
                kw = dict(connections=conns, inflight=infl, duration=a.duration)
                op = "get"
            elif workload == "set3":
                conns, infl = compare.shape3(a.concurrency)
                kw = dict(connections=conns, inflight=infl, duration=a.duration)
                op = "set"
            else:
                kw = dict(connections=1, inflight=16, duration=a.watch_duration)
                common = common + [f"--rate={a.watch_rate}", f"--watch-addr={addrs[-1]}",
                                   "--key-prefix=watch/"]
                addrs = [addrs[0]]
                op = "watch-latency"
            pids = c.pids()
            t0, busy0, ours0 = time.monotonic(), compare.cpu_busy_seconds(), compare.our_cpu_seconds()
            cpu0 = compare.pids_cpu_seconds(pids)
            j = compare.bench(self.bins, self.work, target, addrs, op, warmup=a.warmup,
                              extra=common, **kw)
            cpu = compare.pids_cpu_seconds(pids) - cpu0
            dt = time.monotonic() - t0
            foreign = (compare.cpu_busy_seconds() - busy0) - (compare.our_cpu_seconds() - ours0)
        finally:
            c.stop()
        r = j["result"]
        requests = r.get("requests") or r["throughput"] * kw["duration"]
        rec = {"system": system, "workload": workload, "round": rnd,
               "concurrency": j["config"].get("concurrency"), "throughput": r["throughput"],
               "p50_ms": r["latency_us"]["p50"] / 1000, "p99_ms": r["latency_us"]["p99"] / 1000,
               "errors": r["errors"], "first_error": r.get("first_error"),
               # Over warm-up and measurement, per measured request: an upper
               # bound, computed the same way for every system.
               "server_cpu_us": 1e6 * cpu / max(1, requests),
               "foreign_cpu_cores": max(0.0, foreign / dt) if dt > 0 else None,
               "loadavg": compare.loadavg1()}
        if "watch" in j:
            w = j["watch"]
            rec.update(watch_p50_ms=w["latency_us"]["p50"] / 1000,
                       watch_p99_ms=w["latency_us"]["p99"] / 1000, watch_missing=w.get("missing"))
        self.runs.append(rec)
        extra = f", watch p99 {rec['watch_p99_ms']:.2f} ms" if "watch_p99_ms" in rec else ""
        compare.log(f"  round {rnd} {workload} {system:>12}: {rec['throughput']:.0f}/s "
                    f"p99 {rec['p99_ms']:.2f} ms{extra}, {rec['server_cpu_us']:.0f} us CPU/req, "
                    f"others' CPU {rec['foreign_cpu_cores']:.2f} cores"
                    + (f", {rec['errors']} errors: {rec['first_error']}" if rec["errors"] else ""))

    def run(self):
        a = self.a
        compare.log(f"{', '.join(self.systems)}; gRPC TLS for meshkv-tls: "
                    f"{'on' if self.grpc_tls else 'off'}; {a.rounds} rounds")
        for rnd in range(a.rounds):
            if a.wait_idle > 0:
                compare.log(f"  load average {compare.wait_idle(a.wait_idle):.2f}")
            k = rnd % len(self.systems)
            order = self.systems[k:] + self.systems[:k]
            for w in a.workloads:
                for system in order:
                    if w == "get1" and system.startswith("etcd") and not self.grpc_tls:
                        continue  # peer TLS only: nothing to measure on one member
                    self.measure(system, w, rnd)

    # -- Output -----------------------------------------------------------------
    def series(self, system, workload, key):
        return {r["round"]: r[key] for r in self.runs
                if r["system"] == system and r["workload"] == workload and r.get(key) is not None}

    def ratios(self, num, den, workload, key):
        a, b = self.series(num, workload, key), self.series(den, workload, key)
        return [a[k] / b[k] for k in sorted(a) if k in b and b[k]]

    def tables(self):
        a = self.a
        med = compare.median
        md = ["| workload | system | req/s | p50 ms | p99 ms | set-to-watch p99 ms | server CPU us/req "
              "| errors | others' CPU (cores) |", "|---|---|---|---|---|---|---|---|---|"]
        for w in a.workloads:
            for s in self.systems:
                rs = [r for r in self.runs if r["system"] == s and r["workload"] == w]
                if not rs:
                    continue
                m = lambda k: med([r.get(k) for r in rs])
                md.append(f"| {w} | {s} | {compare.fmt(m('throughput'))} | {compare.fmt(m('p50_ms'))} | "
                          f"{compare.fmt(m('p99_ms'))} | {compare.fmt(m('watch_p99_ms'))} | "
                          f"{compare.fmt(m('server_cpu_us'))} | {sum(r['errors'] for r in rs)} | "
                          f"{compare.fmt(m('foreign_cpu_cores'))} |")
        md += ["", "| ratio (TLS / plain) | workload | throughput | p99 | set-to-watch p99 | "
               "server CPU per request |", "|---|---|---|---|---|---|"]
        pairs = [("meshkv-tls", "meshkv-plain")] + ([] if a.no_etcd else [("etcd-tls", "etcd-plain")])
        for num, den in pairs:
            for w in a.workloads:
                cells = []
                for key in ("throughput", "p99_ms", "watch_p99_ms", "server_cpu_us"):
                    rs = self.ratios(num, den, w, key)
                    cells.append(f"{statistics.median(rs):.2f}x [{spread(rs)}]" if rs else "-")
                if any(c != "-" for c in cells):
                    md.append(f"| {num} / {den} | {w} | " + " | ".join(cells) + " |")
        md += ["", "| target | measured | met |", "|---|---|---|"]
        for num, den, w, key, text, want in TARGETS:
            rs = self.ratios(num, den, w, key)
            if not rs:
                continue
            m = statistics.median(rs)
            md.append(f"| {w} {key}, {num} / {den} {text} | {m:.2f}x [{spread(rs)}] | "
                      f"{'**yes**' if m >= want else '**no**'} |")
        return md

    def write(self, generated, machine, elapsed):
        a = self.a
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, f"{a.name}.json"), "w") as f:
            json.dump({"generated": generated, "machine": machine, "settings": vars(a),
                       "grpc_tls": self.grpc_tls, "elapsed_s": elapsed, "runs": self.runs}, f,
                      separators=(",", ":"))
        loads = [r["loadavg"] for r in self.runs]
        foreign = [r["foreign_cpu_cores"] for r in self.runs if r["foreign_cpu_cores"] is not None]
        if self.grpc_tls:
            what = ("meshkv-tls: the mesh on mutual TLS 1.3 and gRPC on TLS with client "
                    "certificates (--client-ca, role read-write); etcd-tls: mutual TLS between "
                    "members and with clients (--client-cert-auth)")
        else:
            what = ("meshkv-tls: the mesh on mutual TLS 1.3, gRPC plain (the mesh-only "
                    "comparison); etcd-tls: mutual TLS between members, clients plain")
        head = [f"Generated {generated} on {machine['cpus']} CPUs ({machine['cpu_model']}), "
                f"{machine['etcd']}. {what}. "
                f"{a.rounds} rounds of {a.duration:g} s ({a.watch_duration:g} s for watch3 at "
                f"{a.watch_rate:g} sets/s), {a.concurrency} requests in flight, "
                f"{a.value_size}-byte values over {a.keyspace:,} keys. Load average at the start "
                f"{machine['loadavg']}"
                + (f"; during the runs {min(loads):.1f}-{max(loads):.1f}, other processes using "
                   f"{statistics.median(foreign):.2f} cores (median, range {min(foreign):.2f}-"
                   f"{max(foreign):.2f})" if loads and foreign else "")
                + f". {elapsed} s in all. Medians over rounds; ratios are medians of the per-round "
                "ratios, their range in brackets.", ""]
        with open(os.path.join(a.out, f"{a.name}.md"), "w") as f:
            f.write("\n".join(head + self.tables()) + "\n")
        compare.log(f"wrote {a.out}/{a.name}.json and {a.name}.md")


def spread(xs):
    return f"{min(xs):.2f}-{max(xs):.2f}" if xs else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.path.join(compare.REPO, "build-bench", "bin"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--name", default="tls", help="OUT/NAME.md and OUT/NAME.json")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=3, help="seconds measured per run")
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--concurrency", type=int, default=64, help="requests in flight, every system")
    ap.add_argument("--keyspace", type=int, default=100000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--watch-rate", type=float, default=1000)
    ap.add_argument("--watch-duration", type=float, default=5)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--grpc-tls", choices=("auto", "on", "off"), default="auto")
    ap.add_argument("--no-etcd", action="store_true")
    ap.add_argument("--wait-idle", type=float, default=0,
                    help="before each round, wait up to this many seconds for load average < 1")
    ap.add_argument("--quick", action="store_true", help="1 round of 1 s: checks the machinery")
    a = ap.parse_args()
    a.workloads = a.workloads.split(",")
    if a.quick:
        a.rounds, a.duration, a.warmup, a.watch_duration, a.keyspace = 1, 1, 0.5, 1, 10000
    for b in ("meshkv-server", "meshkv-bench"):
        if not os.access(os.path.join(a.bin_dir, b), os.X_OK):
            sys.exit(f"{b} not found in {a.bin_dir}: build it first (scripts/bench/run.sh does)")
    if not a.no_etcd and not shutil.which("etcd"):
        sys.exit("etcd not found (Debian: apt-get install etcd-server), or --no-etcd")
    run = Run(a)
    machine = compare.machine_info()
    generated = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    compare.log(f"machine: {machine}")
    started = time.monotonic()
    try:
        run.run()
    finally:
        compare._cleanup()
        if run.runs:
            run.write(generated, machine, round(time.monotonic() - started))
        shutil.rmtree(run.work, ignore_errors=True)
    with open(os.path.join(a.out, f"{a.name}.md")) as f:
        print(f.read())


if __name__ == "__main__":
    main()
