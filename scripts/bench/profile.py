#!/usr/bin/python3
"""Where meshkv-server spends its CPU under Get and under Set load.

Samples the server with `perf record -e cpu-clock` (a software event: works
in VMs without hardware counters) while meshkv-bench loads it, and writes the
top functions by self time to OUT/profile_get.txt and OUT/profile_set.txt
(Set: node 0 of a 3-node cluster, writes spread over all three). Without
perf, runs the server under valgrind --tool=callgrind for a short, light load
instead (slow: the figures are then instruction counts, not time).

  scripts/bench/profile.py --bin-dir build-bench/bin --out scripts/bench/results
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (same directory)
from compare import MeshkvCluster, Proc, bench, log  # noqa: E402


def perf_works():
    if not shutil.which("perf"):
        return False
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run(["perf", "record", "-e", "cpu-clock", "-o", f"{d}/p.data", "--",
                            "true"], capture_output=True, text=True)
        return r.returncode == 0


def perf_profile(pid, seconds, out_txt, work):
    data = os.path.join(work, "perf.data")
    # DWARF unwinding: the Release build has no frame pointers.
    rec = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "499",
                            "--call-graph", "dwarf,16384", "-p", str(pid),
                            "-o", data, "--", "sleep", str(seconds)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return rec, data


def _perf_lines(args):
    r = subprocess.run(["perf", "report"] + args, capture_output=True, text=True)
    lines = []
    for l in r.stdout.splitlines():
        if not l.strip() or l.startswith("#"):
            continue
        # perf pads the symbol column to the longest name and appends empty
        # columns: keep "percent  dso  [.] symbol".
        l = re.sub(r"(\s+-)+\s*$", "", l).rstrip()
        lines.append(re.sub(r" {3,}", "  ", l))
    return lines


def perf_report(data, out_txt, top):
    flat = _perf_lines(["-i", data, "--stdio", "--no-children", "--sort", "dso,symbol",
                        "--percent-limit", "0.5", "-g", "none"])[:top]
    # Inclusive time of meshkv's own functions: what each layer costs with
    # everything it calls.
    inclusive = [l for l in _perf_lines(["-i", data, "--stdio", "--children", "--sort", "symbol",
                                         "--percent-limit", "1", "-g", "none"])
                 if "meshkv::" in l][:top]
    with open(out_txt, "w") as f:
        f.write("# perf record -e cpu-clock --call-graph dwarf, meshkv-server only\n")
        f.write("# Self time, top functions (percent of the server's samples):\n")
        f.write("\n".join(flat) + "\n\n")
        f.write("# Inclusive time (children, self) of meshkv:: functions:\n")
        f.write("\n".join(inclusive) + "\n")
    return flat + [""] + inclusive


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.path.join(compare.REPO, "build-bench", "bin"))
    ap.add_argument("--out", default=os.path.join(compare.HERE, "results"))
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--tool", choices=["auto", "perf", "callgrind"], default="auto")
    a = ap.parse_args()
    bins = os.path.abspath(a.bin_dir)
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="meshkv-profile-")
    tool = a.tool
    if tool == "auto":
        tool = "perf" if perf_works() else "callgrind"
    log(f"profiling with {tool}")
    flags = ["--keyspace=100000", "--key-size=16", "--value-size=100"]
    try:
        if tool == "perf":
            for name, nodes in (("get", 1), ("set", 3)):
                c = MeshkvCluster(bins, work, nodes, f"prof-{name}")
                try:
                    if name == "get":
                        bench(bins, work, "meshkv", c.addrs(), "none", extra=flags + ["--preload=100000"])
                    pid = c.nodes[0][0].pid
                    rec, data = perf_profile(pid, a.seconds, None, work)
                    time.sleep(0.3)
                    j = bench(bins, work, "meshkv", c.addrs(), name, connections=6 if nodes == 3 else 4,
                              inflight=32, duration=a.seconds - 1, warmup=0.2, extra=flags)
                    rec.wait()
                    top = perf_report(data, os.path.join(a.out, f"profile_{name}.txt"), a.top)
                    log(f"{name}: {j['result']['throughput']:.0f} req/s during the profile")
                    print("\n".join(top[:15]))
                finally:
                    c.stop()
        else:
            vg = shutil.which("valgrind")
            if not vg:
                sys.exit("neither perf nor valgrind available")
            for name in ("get", "set"):
                out = os.path.join(work, f"callgrind.{name}")
                info = os.path.join(work, f"{name}.json")
                p = Proc([vg, "--tool=callgrind", f"--callgrind-out-file={out}",
                          os.path.join(bins, "meshkv-server"), "--grpc-addr=127.0.0.1:0",
                          "--mesh-addr=127.0.0.1:0", "--metrics-addr=127.0.0.1:0",
                          f"--info-file={info}", "--log-level=warning", "--insecure"],
                         os.path.join(work, f"{name}.log"))
                i = compare.wait_for(lambda: os.path.exists(info) and open(info).read(), 120,
                                     "server under valgrind")
                addr = json.loads(i)["grpc"]
                if name == "get":
                    bench(bins, work, "meshkv", [addr], "none",
                          extra=flags + ["--preload=5000", "--keyspace=5000"], timeout=600)
                bench(bins, work, "meshkv", [addr], name, connections=2, inflight=8,
                      duration=10, warmup=1, extra=flags + ["--keyspace=5000"], timeout=600)
                p.stop(timeout=120)
                r = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True)
                with open(os.path.join(a.out, f"profile_{name}.txt"), "w") as f:
                    f.write("# valgrind --tool=callgrind, instructions by function\n")
                    f.write("\n".join(r.stdout.splitlines()[:a.top + 25]) + "\n")
    finally:
        compare._cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
