#!/usr/bin/python3
"""Two meshkv builds (or one build with two sets of flags), side by side.

Answers "did this change cost anything?" the way compare.py answers "how do we
compare with etcd?": the same load shapes, runs alternating between A and B
round by round (the first side rotating), and each ratio the median of the
per-round ratios, so that the drift of a shared machine hits both sides alike.

  scripts/bench/ab.py --a-bin old/bin --b-bin new/bin
  scripts/bench/ab.py --a-bin build-bench/bin --b-bin build-bench/bin \\
      --b-flags="--fsync=always --data-dir={dir}"

Workloads: Get on one node, Set on one node, Set through three nodes, at one
concurrency (--concurrency). Besides throughput and latency, the servers' CPU
per request (from /proc), which does not depend on who wins the two cores.
{dir} in a flag becomes a fresh directory per node. Standard library only.
"""

import argparse
import datetime
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the servers, the load generator, CPU accounting)


class Side:
    def __init__(self, name, bins, flags):
        self.name, self.bins, self.flags = name, os.path.abspath(bins), flags


def node_flags(flags, workdir):
    """Flags for one node: {dir} becomes a fresh directory."""
    out = []
    for f in flags:
        if "{dir}" in f:
            f = f.replace("{dir}", tempfile.mkdtemp(prefix="node-", dir=workdir))
        out.append(f)
    return out


class Cluster(compare.MeshkvCluster):
    """MeshkvCluster with per-node flags ({dir} expanded for each node)."""

    def __init__(self, bins, workdir, n, name, flags):
        self._flags, self._work = flags, workdir
        super().__init__(bins, workdir, n, name)

    def add_node(self):
        self.extra = node_flags(self._flags, self._work)
        return super().add_node()


def measure(side, cluster, workload, args, addrs):
    conns = 3 if len(addrs) == 3 else 4
    infl = max(1, args.concurrency // conns)
    pids = cluster.pids()
    cpu0 = compare.pids_cpu_seconds(pids)
    t0, busy0, ours0 = time.monotonic(), compare.cpu_busy_seconds(), compare.our_cpu_seconds()
    j = compare.bench(side.bins, args.work, "meshkv", addrs, workload, connections=conns,
                      inflight=infl, duration=args.duration, warmup=args.warmup,
                      extra=[f"--keyspace={args.keyspace}", f"--value-size={args.value_size}"])
    cpu = compare.pids_cpu_seconds(pids) - cpu0
    dt = time.monotonic() - t0
    # CPU of other processes on the machine meanwhile: the noise.
    foreign = (compare.cpu_busy_seconds() - busy0) - (compare.our_cpu_seconds() - ours0)
    r = j["result"]
    requests = r.get("requests") or r["throughput"] * args.duration
    return {"throughput": r["throughput"], "p50_ms": r["latency_us"]["p50"] / 1000,
            "p99_ms": r["latency_us"]["p99"] / 1000,
            # CPU over warm-up and measurement, per measured request: an
            # upper bound, the same for both sides.
            "cpu_us": 1e6 * cpu / max(1, requests),
            "foreign_cores": max(0.0, foreign / dt) if dt > 0 else 0.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a-bin", required=True)
    ap.add_argument("--b-bin", required=True)
    ap.add_argument("--a-flags", default="", help="extra meshkv-server flags for side A")
    ap.add_argument("--b-flags", default="", help="extra meshkv-server flags for side B")
    ap.add_argument("--a-name", default="A")
    ap.add_argument("--b-name", default="B")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--keyspace", type=int, default=100000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--workloads", default="get1,set1,set3")
    ap.add_argument("--out", default="", help="also write the table (markdown) to this file")
    args = ap.parse_args()
    args.work = tempfile.mkdtemp(prefix="meshkv-ab-")
    sides = [Side(args.a_name, args.a_bin, shlex.split(args.a_flags)),
             Side(args.b_name, args.b_bin, shlex.split(args.b_flags))]
    workloads = args.workloads.split(",")
    results = {w: {s.name: [] for s in sides} for w in workloads}
    try:
        for rnd in range(args.rounds):
            order = sides if rnd % 2 == 0 else list(reversed(sides))
            for w in workloads:
                for side in order:
                    n = 3 if w.endswith("3") else 1
                    c = Cluster(side.bins, args.work, n, f"{side.name}-{w}", side.flags)
                    try:
                        op = "get" if w.startswith("get") else "set"
                        if op == "get":
                            compare.bench(side.bins, args.work, "meshkv", c.addrs(), "none",
                                          extra=[f"--preload={args.keyspace}",
                                                 f"--keyspace={args.keyspace}",
                                                 f"--value-size={args.value_size}"])
                        m = measure(side, c, op, args, c.addrs())
                    finally:
                        c.stop()
                    results[w][side.name].append(m)
                    compare.log(f"round {rnd} {w} {side.name}: {m['throughput']:.0f}/s "
                                f"p99 {m['p99_ms']:.2f} ms cpu {m['cpu_us']:.0f} us/req, "
                                f"others' CPU {m['foreign_cores']:.2f} cores")
    finally:
        compare._cleanup()
        shutil.rmtree(args.work, ignore_errors=True)

    a, b = sides[0].name, sides[1].name
    machine = compare.machine_info()
    foreign = [r["foreign_cores"] for w in workloads for s in (a, b) for r in results[w][s]]
    lines = [f"{datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}, "
             f"{machine['cpus']} CPUs ({machine['cpu_model']}); A = {a} ({sides[0].bins}"
             f"{' ' + args.a_flags if args.a_flags else ''}), B = {b} ({sides[1].bins}"
             f"{' ' + args.b_flags if args.b_flags else ''}); {args.rounds} rounds of "
             f"{args.duration:g} s, {args.concurrency} in flight; other processes used "
             f"{statistics.median(foreign):.2f} cores (median; {min(foreign):.2f}-"
             f"{max(foreign):.2f}) of the machine during the runs.", "",
             f"| workload | measure | {a} | {b} | {b}/{a} (median of per-round ratios) "
             "| per-round ratios, min-max |",
             "|---|---|---|---|---|---|"]
    for w in workloads:
        for key, unit in (("throughput", "/s"), ("p50_ms", " ms"), ("p99_ms", " ms"),
                          ("cpu_us", " us")):
            xa = [r[key] for r in results[w][a]]
            xb = [r[key] for r in results[w][b]]
            ratios = [y / x for x, y in zip(xa, xb) if x]
            lines.append(f"| {w} | {key} | {statistics.median(xa):.4g}{unit} | "
                         f"{statistics.median(xb):.4g}{unit} | {statistics.median(ratios):.3f} | "
                         f"{min(ratios):.3f}-{max(ratios):.3f} |")
    print("\n" + "\n".join(lines))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
