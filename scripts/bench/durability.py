#!/usr/bin/python3
"""What a data directory costs (issue 11), measured side by side in one run.

Phase "set": Set throughput and latency on 1 and 3 nodes for

  meshkv-mem       meshkv-server in memory (no --data-dir)
  meshkv-interval  --data-dir --fsync=interval (the default, every 100 ms)
  meshkv-always    --data-dir --fsync=always (fsync before each acknowledgement,
                   group commit)
  etcd             etcd as shipped, which fsyncs every commit

with the same client concurrency (--levels) for all. The four alternate run by
run, the first of them rotating from round to round; every run gets a fresh
cluster with fresh, empty data directories (on the disk of --dir), so no run
inherits another's compaction debt. Ratios are the median over rounds of the
ratio within a round, so that drift of a shared machine hits both sides alike;
the spread of those per-round ratios is printed beside them (the noise).

Phase "recovery": a node writes N keys of random --value-size byte values
(--random-values: what the engine stores does not compress) into a data
directory; then
  - kill -9 and restart (a log to replay, page cache warm),
  - SIGTERM and restart with the directory's pages dropped from the page cache
    (posix_fadvise DONTNEED on each file: the cold start after a reboot,
    without touching anybody else's cache),
each time from spawning the process to grpc.health.v1 SERVING, the keys it
serves, and its RSS once settled; disk bytes per key after the load; and the
RSS of an in-memory node holding the same N keys, in the same round.

  scripts/bench/durability.py --bin-dir build-bench/bin --out scripts/bench/results
  scripts/bench/run.sh --durability        # builds, runs this, renders the doc

Writes OUT/durability.json (every run, raw) and OUT/durability.md (the tables
that docs/benchmarks.md shows). Standard library only.
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ab  # noqa: E402  (clusters with a fresh directory per node)
import compare  # noqa: E402  (servers, the load generator, CPU accounting)

HERE = os.path.dirname(os.path.abspath(__file__))

SYSTEMS = [
    ("meshkv-mem", []),
    ("meshkv-interval", ["--data-dir={dir}", "--fsync=interval"]),
    ("meshkv-always", ["--data-dir={dir}", "--fsync=always"]),
    ("etcd", None),
]


def spread(xs):
    """'min-max' of a list of ratios, for the noise column."""
    xs = [x for x in xs if x is not None]
    return f"{min(xs):.2f}-{max(xs):.2f}" if xs else "-"


def ratio_list(num, den):
    """Per-round ratios of two {round: value} maps."""
    return [num[k] / den[k] for k in sorted(num) if k in den and den[k]]


class Run:
    def __init__(self, args):
        self.a = args
        self.bins = os.path.abspath(args.bin_dir)
        self.work = tempfile.mkdtemp(prefix="meshkv-durability-", dir=args.dir)
        self.runs = []  # one record per measured run
        self.recovery = []  # one record per node in the recovery phase

    # -- Set on 1 and 3 nodes ---------------------------------------------------
    def measure(self, system, n, conc, rnd):
        a = self.a
        run_dir = tempfile.mkdtemp(prefix=f"{system}-{n}-", dir=self.work)
        flags = dict(SYSTEMS)[system]
        try:
            if flags is None:
                c = compare.EtcdCluster(run_dir, n, True, f"etcd{n}")
            else:
                c = ab.Cluster(self.bins, run_dir, n, f"{system}-{n}", flags)
            try:
                conns, infl = compare.shape(conc) if n == 1 else compare.shape3(conc)
                pids = c.pids()
                t0, busy0, ours0 = time.monotonic(), compare.cpu_busy_seconds(), \
                    compare.our_cpu_seconds()
                server0 = compare.pids_cpu_seconds(pids)
                storage0 = storage_counts(c) if flags else None
                j = compare.bench(self.bins, run_dir, "etcd" if flags is None else "meshkv",
                                  c.addrs(), "set", connections=conns, inflight=infl,
                                  duration=a.duration, warmup=a.warmup,
                                  extra=[f"--keyspace={a.keyspace}", f"--key-size={a.key_size}",
                                         f"--value-size={a.value_size}", "--random-values"])
                dt = time.monotonic() - t0
                server_s = compare.pids_cpu_seconds(pids) - server0
                foreign = (compare.cpu_busy_seconds() - busy0) - (compare.our_cpu_seconds() - ours0)
                storage1 = storage_counts(c) if flags else None
            finally:
                c.stop()
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
        r = j["result"]
        requests = r.get("requests") or r["throughput"] * a.duration
        rec = {"system": system, "nodes": n, "concurrency": j["config"]["concurrency"],
               "level": conc, "round": rnd, "throughput": r["throughput"],
               "p50_ms": r["latency_us"]["p50"] / 1000, "p99_ms": r["latency_us"]["p99"] / 1000,
               "p999_ms": r["latency_us"]["p999"] / 1000, "errors": r["errors"],
               "first_error": r.get("first_error"),
               # Over warm-up and measurement, per measured request: an upper
               # bound, computed the same way for every system.
               "server_cpu_us": 1e6 * server_s / max(1, requests),
               "client_cpu_cores": r.get("client_cpu_cores"),
               "foreign_cpu_cores": max(0.0, foreign / dt) if dt > 0 else None,
               "loadavg": compare.loadavg1()}
        if storage0 and storage1 and storage1[1] > storage0[1]:
            # Group commit at work: records appended per fsync, over the run.
            rec["records_per_fsync"] = (storage1[0] - storage0[0]) / (storage1[1] - storage0[1])
        self.runs.append(rec)
        compare.log(f"  round {rnd} {n} node(s) {system:>15} x{rec['concurrency']}: "
                    f"{rec['throughput']:.0f}/s p99 {rec['p99_ms']:.2f} ms, "
                    f"others' CPU {rec['foreign_cpu_cores']:.2f} cores"
                    + (f", {rec['errors']} errors: {rec['first_error']}" if rec["errors"] else ""))

    def phase_set(self):
        a = self.a
        compare.log(f"phase set: {', '.join(s for s, _ in SYSTEMS)} on {a.nodes} node(s), "
                    f"{a.rounds} rounds")
        systems = [s for s, _ in SYSTEMS]
        for rnd in range(a.rounds):
            if a.wait_idle > 0:
                compare.log(f"  load average {compare.wait_idle(a.wait_idle):.2f}")
            # Rotate who goes first (a rotation, not only a reversal: four systems).
            order = systems[rnd % len(systems):] + systems[:rnd % len(systems)]
            for n in a.nodes:
                for conc in a.levels:
                    for system in order:
                        self.measure(system, n, conc, rnd)

    # -- Recovery ---------------------------------------------------------------
    def phase_recovery(self):
        a = self.a
        compare.log(f"phase recovery: {a.recovery_keys} keys of {a.value_size} B, "
                    f"{a.recovery_rounds} round(s)")
        for rnd in range(a.recovery_rounds):
            if a.wait_idle > 0:
                compare.log(f"  load average {compare.wait_idle(a.wait_idle):.2f}")
            kinds = ["memory", "disk"] if rnd % 2 == 0 else ["disk", "memory"]
            for kind in kinds:
                run_dir = tempfile.mkdtemp(prefix=f"recovery-{kind}-", dir=self.work)
                try:
                    rec = self.recover_memory(run_dir, rnd) if kind == "memory" else \
                        self.recover_disk(run_dir, rnd)
                finally:
                    shutil.rmtree(run_dir, ignore_errors=True)
                self.recovery.append(rec)

    def load(self, cluster):
        a = self.a
        n = a.recovery_keys
        return compare.bench(self.bins, cluster.dir, "meshkv", cluster.addrs(), "none",
                             extra=[f"--keyspace={n}", f"--preload={n}", "--connections=4",
                                    "--inflight=64", f"--key-size={a.key_size}",
                                    f"--value-size={a.value_size}", "--random-values"],
                             timeout=3600)["preload"]

    def recover_memory(self, run_dir, rnd):
        c = compare.MeshkvCluster(self.bins, run_dir, 1, "mem")
        try:
            p = c.nodes[0][0]
            pre = self.load(c)
            time.sleep(self.a.settle)
            rss = p.rss_kb()
            keys = compare.metric_sum(c.metrics(0), "meshkv_store_keys")
        finally:
            c.stop()
        compare.log(f"  round {rnd} in memory: {keys:.0f} keys ({pre['throughput']:.0f}/s), "
                    f"RSS {rss['VmRSS'] / 1024:.0f} MiB")
        return {"kind": "memory", "round": rnd, "keys": keys, "rss_kb": rss, "preload": pre}

    def restart(self, c, label, rnd):
        """Starts the cluster's one node again: seconds to SERVING, keys, RSS."""
        p, info, t0 = c.add_node()
        w = compare.bench_wait_serving(self.bins, info["grpc"], timeout=300)
        seconds = w["serving_unix_s"] - t0
        time.sleep(self.a.settle)
        m = c.metrics(0)
        out = {"seconds_to_serving": seconds, "rss_kb": p.rss_kb(),
               "keys": compare.metric_sum(m, "meshkv_store_keys"),
               "open_s": compare.metric_sum(m, "meshkv_storage_open_seconds"),
               "load_s": compare.metric_sum(m, "meshkv_storage_load_seconds"),
               "records_loaded": compare.metric_sum(m, "meshkv_storage_records_loaded")}
        compare.log(f"  round {rnd} restart after {label}: SERVING after {seconds:.2f} s "
                    f"(open {out['open_s']:.2f} s, load {out['load_s']:.2f} s), "
                    f"{out['keys']:.0f} keys, RSS {out['rss_kb']['VmRSS'] / 1024:.0f} MiB")
        return out

    def recover_disk(self, run_dir, rnd):
        data = os.path.join(run_dir, "data")
        # A fixed node ID: the default (the mesh address, a new port each start)
        # would not match the directory's.
        c = compare.MeshkvCluster(self.bins, run_dir, 1, "disk",
                                  extra_flags=[f"--data-dir={data}", "--fsync=interval",
                                               "--node-id=recovery-1"])
        rec = {"kind": "disk", "round": rnd}
        try:
            p = c.nodes[0][0]
            rec["preload"] = self.load(c)
            time.sleep(self.a.settle)
            rec["rss_kb"] = p.rss_kb()
            m = c.metrics(0)
            rec["keys"] = compare.metric_sum(m, "meshkv_store_keys")
            rec["disk_bytes_metric"] = compare.metric_sum(m, "meshkv_storage_disk_bytes")
            rec["disk_after_load"] = disk_usage(data)
            compare.log(f"  round {rnd} on disk: {rec['keys']:.0f} keys "
                        f"({rec['preload']['throughput']:.0f}/s), RSS "
                        f"{rec['rss_kb']['VmRSS'] / 1024:.0f} MiB, disk "
                        f"{rec['disk_after_load']['apparent'] / 2**20:.0f} MiB")
            # kill -9: the engine replays its log at the next start.
            kill9(c.nodes.pop()[0])
            rec["after_kill"] = self.restart(c, "kill -9 (warm cache)", rnd)
            # A clean stop, then a cold page cache for the directory.
            c.nodes.pop()[0].stop()
            rec["disk_after_stop"] = disk_usage(data)
            rec["dropped_bytes"] = drop_page_cache(data)
            rec["after_clean_cold"] = self.restart(c, "SIGTERM, cold cache", rnd)
        finally:
            c.stop()
        return rec

    # -- Output -----------------------------------------------------------------
    def series(self, system, n, level, key):
        return {r["round"]: r[key] for r in self.runs
                if r["system"] == system and r["nodes"] == n and r["level"] == level}

    def tables(self):
        a = self.a
        md = []
        if self.runs:
            md += ["Set, one value of random bytes per write, fresh cluster and data directories "
                   f"per run; {a.rounds} rounds, medians (range of the per-round ratios in "
                   "brackets):", "",
                   "| nodes | in flight | system | req/s | p50 ms | p99 ms | p99.9 ms | errors | "
                   "server CPU us/req | records per fsync | others' CPU (cores) |",
                   "|---|---|---|---|---|---|---|---|---|---|---|"]
            for n in a.nodes:
                for level in a.levels:
                    for system, _ in SYSTEMS:
                        rs = [r for r in self.runs if r["system"] == system and r["nodes"] == n
                              and r["level"] == level]
                        if not rs:
                            continue
                        med = lambda k: statistics.median(r[k] for r in rs)
                        md.append(f"| {n} | {rs[0]['concurrency']} | {system} | "
                                  f"{compare.fmt(med('throughput'))} | {compare.fmt(med('p50_ms'))} | "
                                  f"{compare.fmt(med('p99_ms'))} | {compare.fmt(med('p999_ms'))} | "
                                  f"{sum(r['errors'] for r in rs)} | "
                                  f"{compare.fmt(med('server_cpu_us'))} | "
                                  f"{compare.fmt(compare.median([r.get('records_per_fsync') for r in rs]))} | "
                                  f"{compare.fmt(med('foreign_cpu_cores'))} |")
            md += ["", "| nodes | in flight | ratio | throughput | p99 | target | met |",
                   "|---|---|---|---|---|---|---|"]
            for n in a.nodes:
                for level in a.levels:
                    for num, den, target, want in (
                            ("meshkv-always", "etcd", ">= 3x etcd", 3),
                            ("meshkv-interval", "meshkv-mem", ">= 0.9x in memory", 0.9),
                            ("meshkv-always", "meshkv-mem", "(for reference)", None),
                            ("meshkv-mem", "etcd", "(for reference)", None)):
                        t = ratio_list(self.series(num, n, level, "throughput"),
                                       self.series(den, n, level, "throughput"))
                        l = ratio_list(self.series(num, n, level, "p99_ms"),
                                       self.series(den, n, level, "p99_ms"))
                        if not t:
                            continue
                        tm = statistics.median(t)
                        met = "n/a" if want is None else ("**yes**" if tm >= want else "**no**")
                        conc = next(r["concurrency"] for r in self.runs
                                    if r["nodes"] == n and r["level"] == level)
                        md.append(f"| {n} | {conc} | {num} / {den} | {tm:.2f}x [{spread(t)}] | "
                                  f"{statistics.median(l):.2f}x [{spread(l)}] | {target} | {met} |")
        mem = [r for r in self.recovery if r["kind"] == "memory"]
        disk = [r for r in self.recovery if r["kind"] == "disk"]
        if disk:
            n = a.recovery_keys
            raw = n * (a.key_size + a.value_size)
            med = lambda xs: statistics.median(xs) if xs else None
            mem_rss = med([r["rss_kb"]["VmRSS"] * 1024 for r in mem])
            rows = [
                ("Start to SERVING after kill -9 (log replayed, warm cache), s",
                 med([r["after_kill"]["seconds_to_serving"] for r in disk]), "< 3 s",
                 lambda v: v < 3),
                ("Start to SERVING after SIGTERM, directory not in the page cache, s",
                 med([r["after_clean_cold"]["seconds_to_serving"] for r in disk]), "< 3 s",
                 lambda v: v < 3),
                ("  of which the engine's open (cold), s",
                 med([r["after_clean_cold"]["open_s"] for r in disk]), "", None),
                ("  of which loading the records into the store (cold), s",
                 med([r["after_clean_cold"]["load_s"] for r in disk]), "", None),
                ("Keys served after the restarts (fewest)",
                 min([min(r["after_kill"]["keys"], r["after_clean_cold"]["keys"]) for r in disk]),
                 f"{n:,}", lambda v: v >= n),
                ("Disk bytes per key after the load (files' sizes)",
                 med([r["disk_after_load"]["apparent"] / n for r in disk]),
                 f"raw key+value: {raw / n:.0f}", None),
                ("Disk bytes per key after a clean stop (files' sizes)",
                 med([r["disk_after_stop"]["apparent"] / n for r in disk]), "", None),
                ("RSS in memory only, MiB", mem_rss / 2**20 if mem_rss else None,
                 f"raw keys+values: {raw / 2**20:.1f}", None),
                ("RSS with a data directory, after the writes, MiB",
                 med([r["rss_kb"]["VmRSS"] / 1024 for r in disk]), "", None),
                ("RSS with a data directory, restarted from it (cold), MiB",
                 med([r["after_clean_cold"]["rss_kb"]["VmRSS"] / 1024 for r in disk]), "", None),
            ]
            if mem_rss:
                for label, key in (("after the writes", None), ("restarted from it", "after_clean_cold")):
                    xs = [(r[key] if key else r)["rss_kb"]["VmRSS"] * 1024 / mem_rss for r in disk]
                    rows.append((f"RSS with a data directory / in memory, {label}", med(xs),
                                 "<= 1.3x", lambda v: v <= 1.3))
            md += ["", f"Recovery, {n:,} keys of {a.value_size}-byte random values, "
                   f"--fsync=interval, {a.recovery_rounds} round(s), medians:", "",
                   "| measure | value | reference / target | met |", "|---|---|---|---|"]
            for label, v, ref, ok in rows:
                met = "n/a" if ok is None or v is None else ("**yes**" if ok(v) else "**no**")
                md.append(f"| {label} | {compare.fmt(v)} | {ref} | {met} |")
        return md

    def write(self, generated, machine, elapsed):
        a = self.a
        os.makedirs(a.out, exist_ok=True)
        settings = {k: v for k, v in vars(a).items()}
        with open(os.path.join(a.out, "durability.json"), "w") as f:
            json.dump({"generated": generated, "machine": machine, "settings": settings,
                       "elapsed_s": elapsed, "runs": self.runs, "recovery": self.recovery}, f,
                      separators=(",", ":"))
        loads = [r["loadavg"] for r in self.runs]
        foreign = [r["foreign_cpu_cores"] for r in self.runs if r["foreign_cpu_cores"] is not None]
        head = [f"Generated {generated} on {machine['cpus']} CPUs ({machine['cpu_model']}), "
                f"{machine['etcd']}, data directories on `{a.dir or tempfile.gettempdir()}` "
                f"(the VM's ext4 disk). Load average at the start {machine['loadavg']}"
                + (f"; during the Set runs {min(loads):.1f}-{max(loads):.1f}, other processes "
                   f"using {statistics.median(foreign):.2f} cores (median, range "
                   f"{min(foreign):.2f}-{max(foreign):.2f})" if loads and foreign else "")
                + f". {elapsed} s in all.", ""]
        with open(os.path.join(a.out, "durability.md"), "w") as f:
            f.write("\n".join(head + self.tables()) + "\n")
        compare.log(f"wrote {a.out}/durability.json and durability.md")


def storage_counts(cluster):
    """(records appended, fsyncs) summed over a meshkv cluster's nodes."""
    appended = fsyncs = 0.0
    for i in range(len(cluster.nodes)):
        m = cluster.metrics(i)
        appended += compare.metric_sum(m, "meshkv_storage_records_appended_total")
        fsyncs += compare.metric_sum(m, "meshkv_storage_fsync_duration_seconds_count")
    return appended, fsyncs


def kill9(proc):
    proc.p.kill()
    proc.p.wait()
    proc.log.close()
    if proc in compare._PROCS:
        compare._PROCS.remove(proc)


def disk_usage(path):
    apparent = allocated = files = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            apparent += st.st_size
            allocated += st.st_blocks * 512
            files += 1
    return {"apparent": apparent, "allocated": allocated, "files": files}


def drop_page_cache(path):
    """Evicts the directory's files from the page cache (this directory only):
    written back first, then POSIX_FADV_DONTNEED."""
    dropped = 0
    for root, _, names in os.walk(path):
        for name in names:
            fn = os.path.join(root, name)
            try:
                fd = os.open(fn, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                dropped += os.fstat(fd).st_size
            finally:
                os.close(fd)
    return dropped


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.path.join(compare.REPO, "build-bench", "bin"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--dir", default=None,
                    help="where the data directories go (the disk measured); default $TMPDIR")
    ap.add_argument("--phases", default="set,recovery")
    ap.add_argument("--nodes", default="1,3")
    ap.add_argument("--levels", default="64", help="requests in flight, the same for every system")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=3, help="seconds measured per run")
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--keyspace", type=int, default=100000)
    ap.add_argument("--key-size", type=int, default=16)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--recovery-keys", type=int, default=1000000)
    ap.add_argument("--recovery-rounds", type=int, default=2)
    ap.add_argument("--settle", type=float, default=3, help="seconds before reading RSS")
    ap.add_argument("--wait-idle", type=float, default=0,
                    help="before each round wait up to this many seconds for a load average < 1")
    ap.add_argument("--quick", action="store_true",
                    help="a fast, small run to check the machinery (numbers meaningless)")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.duration, a.warmup, a.levels = 1, 1, 0.3, "16"
        a.keyspace, a.recovery_keys, a.recovery_rounds, a.settle = 10000, 20000, 1, 0.5
    a.nodes = [int(x) for x in a.nodes.split(",")]
    a.levels = [int(x) for x in a.levels.split(",")]
    a.out = os.path.abspath(a.out)
    for b in ("meshkv-server", "meshkv-bench"):
        if not os.access(os.path.join(a.bin_dir, b), os.X_OK):
            sys.exit(f"{b} not found in {a.bin_dir}: build it first (scripts/bench/run.sh does)")
    if "set" in a.phases.split(",") and not shutil.which("etcd"):
        sys.exit("etcd not found (Debian: apt-get install etcd-server)")
    run = Run(a)
    machine = compare.machine_info()
    generated = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    compare.log(f"machine: {machine}")
    started = time.monotonic()
    failed = []
    try:
        for name in a.phases.split(","):
            try:
                {"set": run.phase_set, "recovery": run.phase_recovery}[name]()
            except Exception as e:  # one failed phase must not lose the other
                compare.log(f"phase {name} FAILED: {e!r}")
                failed.append(f"{name}: {e!r}")
                compare._cleanup()
            run.write(generated, machine, round(time.monotonic() - started))
    finally:
        compare._cleanup()
        shutil.rmtree(run.work, ignore_errors=True)
    with open(os.path.join(a.out, "durability.md")) as f:
        print(f.read())
    if failed:
        sys.exit("phases that failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
