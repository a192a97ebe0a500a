#!/usr/bin/env python3
"""Write concern: Set latency and throughput on 3 meshkv nodes with min_replicas 0, 1 and 2,
side by side in one run with etcd's Put on 3 members (no fsync on either side), same load
shape (4 connections x 16 in flight), using compare.py's cluster helpers.

  python3 scripts/bench/concern.py --bin-dir build/bin [--duration 5] [--out results.json]
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare as c  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="concern-bench-")
    rows = []

    def run(name, target, addrs, extra=()):
        r = c.bench(a.bin_dir, work, target, addrs, "set", connections=4, inflight=16,
                    duration=a.duration, warmup=1, extra=extra)
        lat = r["result"]["latency_us"]
        rows.append({"name": name, "throughput": r["result"]["throughput"],
                     "errors": r["result"]["errors"], "p50_ms": lat["p50"] / 1000,
                     "p99_ms": lat["p99"] / 1000})
        print(f"{name:28s} {rows[-1]['throughput']:9.0f}/s  p50 {rows[-1]['p50_ms']:6.2f} ms"
              f"  p99 {rows[-1]['p99_ms']:7.2f} ms  errors {rows[-1]['errors']}", flush=True)

    print(f"load average before: {c.loadavg1():.1f}")
    m = c.MeshkvCluster(a.bin_dir, work, 3, "meshkv")
    try:
        time.sleep(2)  # every node connected to both others
        addrs = [info["grpc"] for _, info in m.nodes]
        for n in (0, 1, 2):
            run(f"meshkv Set min_replicas={n}", "meshkv", addrs, extra=(f"--min-replicas={n}",))
    finally:
        m.stop()
    e = c.EtcdCluster(work, 3, fsync=False, name="etcd")
    try:
        run(f"etcd Put ({e.how})", "etcd", e.addrs())
    finally:
        e.stop()
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
