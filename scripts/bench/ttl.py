#!/usr/bin/python3
"""What expiring keys cost one node: how many keys can expire per second
before Get's p99 rises by more than 10%.

One meshkv node holds --preload keys for Gets. A fixed-rate (open loop) Get
load measures p99 while a second load generator Sets fresh keys at a rate E,
each with --ttl (so, after the first ttl, E keys expire per second), and the
same writer without a ttl (so, the same Sets and no expiry) as the control:
the difference between the two is what the expiry (index, sweep, events)
costs. Rounds alternate the two, so a shared machine's drift hits both.
The expiries per second are read from meshkv_store_keys_expired_total.

  scripts/bench/ttl.py --bin build/bin --rates 1000,5000,20000

Standard library only (compare.py has the servers and the load generator).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def expired_total(cluster):
    return compare.metric_sum(cluster.metrics(0), "meshkv_store_keys_expired_total")


def measure(args, cluster, workdir, rate, ttl_ms):
    """Get p99 (us) while a writer Sets at `rate` with `ttl_ms`; and expiries/s."""
    bins = os.path.abspath(args.bin)
    addr = cluster.addrs()[0]
    writer = None
    if rate > 0:
        out = os.path.join(workdir, "writer.json")
        writer = subprocess.Popen(
            [os.path.join(bins, "meshkv-bench"), f"--addr={addr}", "--workload=set",
             f"--rate={rate}", f"--ttl-ms={ttl_ms}", "--key-prefix=ttl/",
             "--keyspace=1000000000", f"--seed={int(time.time())}",
             "--connections=2", "--inflight=64", "--warmup=0s",
             f"--duration={args.ttl_ms / 1000 + args.duration + 2}s", f"--json={out}", "--quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(args.ttl_ms / 1000 + 0.5)  # the first keys expire from here on
    before, t0 = expired_total(cluster), time.time()
    cpu0 = compare.pids_cpu_seconds(cluster.pids())
    j = compare.bench(bins, workdir, "meshkv", [addr], "get", connections=2, inflight=32,
                      duration=args.duration, warmup=0,
                      extra=[f"--rate={args.get_rate}", f"--keyspace={args.preload}"])
    seconds = time.time() - t0
    expired = (expired_total(cluster) - before) / seconds
    cpu = (compare.pids_cpu_seconds(cluster.pids()) - cpu0) / seconds  # server cores busy
    if writer is not None:
        writer.wait()
    lat = j["result"]["latency_us"]
    return lat["p99"], expired, cpu


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default="build/bin")
    p.add_argument("--rates", default="1000,5000,10000,20000",
                   help="writer Sets per second to try (each key expires --ttl-ms later)")
    p.add_argument("--ttl-ms", type=int, default=1000)
    p.add_argument("--get-rate", type=int, default=5000)
    p.add_argument("--preload", type=int, default=100000)
    p.add_argument("--duration", type=float, default=5)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    workdir = tempfile.mkdtemp(prefix="ttl-bench-")
    cluster = compare.MeshkvCluster(os.path.abspath(args.bin), workdir, 1, "ttl")
    try:
        compare.bench(os.path.abspath(args.bin), workdir, "meshkv", cluster.addrs(), "get",
                      duration=1, warmup=0, extra=[f"--preload={args.preload}"])
        idle = [measure(args, cluster, workdir, 0, 0)[0] for _ in range(args.rounds)]
        print(f"no writer: get p99 {statistics.median(idle):.0f} us (rounds {idle})")
        # The server's CPU (from /proc) does not depend on who wins the
        # machine's cores: its difference per expiry is the expiry's cost.
        print("sets/s  p99 no-ttl  p99 ttl  ratio  expired/s  cpu no-ttl  cpu ttl  us/expiry"
              "  (medians of rounds)")
        for rate in [int(r) for r in args.rates.split(",")]:
            plain, ttl, exp, cpu_plain, cpu_ttl = [], [], [], [], []
            for rnd in range(args.rounds):
                order = [0, args.ttl_ms] if rnd % 2 == 0 else [args.ttl_ms, 0]
                for t in order:
                    p99, expired, cpu = measure(args, cluster, workdir, rate, t)
                    if t:
                        ttl.append(p99)
                        exp.append(expired)
                        cpu_ttl.append(cpu)
                    else:
                        plain.append(p99)
                        cpu_plain.append(cpu)
            a, b = statistics.median(plain), statistics.median(ttl)
            e = statistics.median(exp)
            ca, cb = statistics.median(cpu_plain), statistics.median(cpu_ttl)
            per = (cb - ca) / e * 1e6 if e > 0 else float("nan")
            print(f"{rate:6d}  {a:10.0f}  {b:7.0f}  {b / a:5.2f}  {e:9.0f}  {ca:10.3f}  {cb:7.3f}"
                  f"  {per:9.1f}   p99 rounds no-ttl {plain} ttl {ttl}", flush=True)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
