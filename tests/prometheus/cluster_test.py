#!/usr/bin/python3
"""A real Prometheus scraping a real 3-node meshkv cluster, checked through Prometheus' HTTP API.

Starts meshkv-server n1, then n2 and n3 joining n1 (all on loopback, ports chosen by the kernel),
and the Debian `prometheus` server scraping their /metrics every second with the alert rules of
deploy/prometheus/alerts.yml loaded. Then writes through every node with the meshkv CLI (n1 3 keys,
n2 5, n3 7, one lease renewal at n1, one write refused by a lease at n2) and asserts, by PromQL
queries against Prometheus, with a deadline each (never a fixed sleep):

  - up == 1, meshkv_node_synced == 1, meshkv_peers_connected == 2 on every node;
  - every family documented in docs/metrics.md is scraped from every node, with the documented type,
    help text and labels, and none is undocumented (so the document cannot drift from the server);
    every PromQL example there runs;
  - leases: meshkv_leases_active{owner="self"} on each node equals the keys written through it, and
    owner="other" the keys written elsewhere; acquired/renewed/refused counters likewise;
  - replication: increase(meshkv_replication_writes_applied_total) > 0 on every node, writes
    originated per node, every node holds all 15 keys, the lag histogram and batch sizes observed,
    anti-entropy rounds completed;
  - mesh: frames and bytes sent and received per peer (write_batch and ping frames to each of the two
    other nodes), RTT per peer;
  - gRPC: Set requests counted by code (OK, and FAILED_PRECONDITION for the refused write);
  - the alert rules evaluate without error, and none is pending or firing while healthy;
  - after n3 is stopped (SIGTERM, exit 0): MeshkvNodeDown becomes active for n3, and
    MeshkvPeerDisconnected for n1 and n2.

Usage (tests/prometheus/run.sh sets these up):
  MESHKV_BIN_DIR=build/bin PROMETHEUS=/usr/bin/prometheus /usr/bin/python3 tests/prometheus/cluster_test.py
MESHKV_KEEP_TMP=1 keeps the temporary directory (logs, TSDB, generated config).
Exit status 0 when every check passed, 1 otherwise (each failure printed with what was seen).
"""

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALERTS_YML = os.path.join(REPO, "deploy", "prometheus", "alerts.yml")
METRICS_MD = os.path.join(REPO, "docs", "metrics.md")

NODES = ["n1", "n2", "n3"]
# Keys written through each node: distinct counts, so a metric from the wrong node cannot pass.
KEYS_PER_NODE = {"n1": 3, "n2": 5, "n3": 7}
TOTAL_KEYS = sum(KEYS_PER_NODE.values())
ALERTS = ["MeshkvNodeDown", "MeshkvPeerDisconnected", "MeshkvReplicationLagHigh",
          "MeshkvAntiEntropyRepairing", "MeshkvGrpcErrorRatioHigh", "MeshkvWatchersCutOff"]

CHECK_TIMEOUT = 15.0  # seconds each condition may take to hold (scrapes are every second)
START = time.monotonic()


class Failure(Exception):
    pass


def log(msg):
    print(f"[{time.monotonic() - START:6.2f}s] {msg}", flush=True)


# --- processes --------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid):
    """Runs in the child before exec: SIGKILL it when this test process dies, even by SIGKILL."""
    def hook():
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl
            os._exit(1)
    return hook


class Process:
    def __init__(self, name, args, log_path):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT,
                                      preexec_fn=_die_with_parent(os.getpid()))

    def alive(self):
        return self.popen.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after `timeout`; returns the exit status."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join("    | " + l for l in text.splitlines()[-lines:])


class Cluster:
    """Every process this test starts; stop_all() runs on every exit path."""

    def __init__(self, work, bin_dir, prometheus):
        self.work = work
        self.server_bin = os.path.join(bin_dir, "meshkv-server")
        self.cli_bin = os.path.join(bin_dir, "meshkv")
        self.prometheus_bin = prometheus
        self.procs = []  # Process, in start order
        self.nodes = {}  # name -> {"proc", "grpc", "mesh", "metrics_port"}
        self.prom = None
        self.prom_url = None

    def stop_all(self):
        for p in reversed(self.procs):
            if p.alive():
                t = time.monotonic()
                status = p.stop()
                log(f"stopped {p.name}: exit {status} after {time.monotonic() - t:.1f}s")

    def dump_logs(self):
        for p in self.procs:
            print(f"--- log of {p.name} ({p.log_path}), last lines:\n{p.log_tail()}", file=sys.stderr)

    # meshkv ------------------------------------------------------------------------------------

    def start_node(self, name, join=None):
        d = os.path.join(self.work, name)
        os.mkdir(d)
        info_path = os.path.join(d, "info.json")
        args = [self.server_bin, f"--node-id={name}", "--grpc-addr=127.0.0.1:0",
                "--mesh-addr=127.0.0.1:0", "--metrics-addr=127.0.0.1:0", f"--info-file={info_path}",
                f"--data-dir={os.path.join(d, 'data')}", "--insecure"]
        if join:
            args.append(f"--join={join}")
        proc = Process(name, args, os.path.join(d, "server.log"))
        self.procs.append(proc)
        deadline = time.monotonic() + 20
        while True:
            if not proc.alive():
                raise Failure(f"{name}: meshkv-server exited ({proc.popen.returncode}) before "
                              f"writing {info_path}")
            try:
                with open(info_path) as f:
                    info = json.load(f)
                if all(k in info for k in ("grpc", "mesh", "metrics_port")):
                    break
            except (OSError, ValueError):
                pass  # not written yet, or half written
            if time.monotonic() > deadline:
                raise Failure(f"{name}: no info file {info_path} within 20 s")
            time.sleep(0.05)
        if info.get("node_id") != name or not info["metrics_port"]:
            raise Failure(f"{name}: unexpected info file {info}")
        self.nodes[name] = {"proc": proc, **info}
        log(f"{name}: grpc {info['grpc']}, mesh {info['mesh']}, metrics :{info['metrics_port']}")

    def cli(self, node, *args):
        """Runs `meshkv --addr NODE ARGS`; returns (exit status, stdout, stderr)."""
        r = subprocess.run([self.cli_bin, "--addr", self.nodes[node]["grpc"], "--timeout", "5s",
                            *args], capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout.strip(), r.stderr.strip()

    def must(self, node, *args):
        code, out, err = self.cli(node, *args)
        if code != 0:
            raise Failure(f"meshkv --addr {node} {' '.join(args)}: exit {code}: {err or out}")
        return out

    def wait_serving(self, node, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            code, out, err = self.cli(node, "health")
            if code == 0:
                return
            if not self.nodes[node]["proc"].alive():
                raise Failure(f"{node}: meshkv-server exited while waiting for SERVING")
            if time.monotonic() > deadline:
                raise Failure(f"{node}: not SERVING within {timeout:.0f} s: {err or out}")
            time.sleep(0.1)

    # Prometheus --------------------------------------------------------------------------------

    def start_prometheus(self):
        """Starts Prometheus on a free port, retrying when another process takes the port first."""
        for attempt in range(1, 6):
            port = free_port()
            d = os.path.join(self.work, f"prometheus-{attempt}")
            os.mkdir(d)
            config = os.path.join(d, "prometheus.yml")
            with open(config, "w") as f:
                json.dump(self.prometheus_config(), f, indent=2)  # JSON is YAML
            args = [self.prometheus_bin, f"--config.file={config}",
                    f"--storage.tsdb.path={os.path.join(d, 'tsdb')}",
                    f"--web.listen-address=127.0.0.1:{port}", "--log.level=info"]
            proc = Process(f"prometheus (attempt {attempt})", args, os.path.join(d, "prometheus.log"))
            self.procs.append(proc)
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while proc.alive() and time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(url + "/-/ready", timeout=2) as r:
                        if r.status == 200:
                            self.prom, self.prom_url = proc, url
                            log(f"prometheus ready at {url} (config {config})")
                            return
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.1)
            proc.stop()
            with open(proc.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            if "address already in use" in text:
                log(f"prometheus: port {port} taken meanwhile, retrying with another")
                continue
            raise Failure(f"prometheus did not become ready at {url}:\n{proc.log_tail()}")
        raise Failure("prometheus: no free port after 5 attempts")

    def prometheus_config(self):
        return {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [ALERTS_YML],
            "scrape_configs": [{
                "job_name": "meshkv",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{self.nodes[n]['metrics_port']}"], "labels": {"node": n}}
                    for n in NODES
                ],
            }],
        }

    def api(self, path, **params):
        url = f"{self.prom_url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            raise Failure(f"GET {url}: HTTP {e.code}: {e.read().decode('utf-8', 'replace')}")
        if body.get("status") != "success":
            raise Failure(f"GET {url}: {body}")
        return body["data"]

    def query(self, expr):
        """Instant query; returns [(labels, value)] of the vector result."""
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise Failure(f"query {expr}: result type {data['resultType']}, want vector")
        return [(s["metric"], float(s["value"][1])) for s in data["result"]]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- checks -----------------------------------------------------------------------------------

class Checker:
    def __init__(self, cluster):
        self.c = cluster
        self.failures = []
        self.passed = 0

    def eventually(self, what, probe, timeout=CHECK_TIMEOUT):
        """Polls probe() -> (ok, seen) until ok or the deadline; records a failure with the last
        `seen` otherwise. Returns whether it held."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                ok, seen = probe()
            except Failure as e:
                ok, seen = False, str(e)
            if ok:
                self.passed += 1
                log(f"ok:   {what}")
                return True
            if time.monotonic() > deadline:
                self.failures.append(f"{what}\n      last seen: {seen}")
                log(f"FAIL: {what}\n      last seen: {seen}")
                return False
            time.sleep(0.25)

    def per_node(self, expr, want, nodes=NODES, what=None, timeout=CHECK_TIMEOUT):
        """`expr` has exactly one sample per node in `nodes`, and want(node, value) holds for each.
        `want` is a number (equality) or a predicate."""
        pred = want if callable(want) else (lambda n, v, w=want: v == w)

        def probe():
            got = {}
            for labels, v in self.c.query(expr):
                node = labels.get("node", "?")
                if node in got:
                    return False, f"two samples for node {node}: {self.c.query(expr)}"
                got[node] = v
            ok = set(got) == set(nodes) and all(pred(n, got[n]) for n in nodes)
            return ok, f"by node: {dict(sorted(got.items()))}"
        label = what or f"{expr}: {'as expected' if callable(want) else f'== {want:g}'} on {', '.join(nodes)}"
        return self.eventually(label, probe, timeout)

    def series_per_peer(self, expr, what, timeout=CHECK_TIMEOUT):
        """`expr` has a positive sample for every (node, peer) pair of distinct nodes, and no other."""
        want = {(n, p) for n in NODES for p in NODES if p != n}

        def probe():
            got = {}
            for labels, v in self.c.query(expr):
                got[(labels.get("node"), labels.get("peer"))] = v
            ok = set(got) == want and all(v > 0 for v in got.values())
            return ok, f"(node, peer) -> value: {dict(sorted(got.items()))}"
        return self.eventually(what, probe, timeout)


def documented_families():
    """Families of docs/metrics.md: {name: (type, [labels], help)}.

    Each family there is a section opened by a heading and a line like
        ### `meshkv_lease_refused_total`
        *counter* · no labels · help: "Writes entering at this node refused by another node's lease."
    """
    with open(METRICS_MD, encoding="utf-8") as f:
        text = f.read()
    pattern = re.compile(
        r'^### `((?:meshkv|grpc_server|process)_[a-z0-9_]+)`\n+\*(counter|gauge|histogram)\* · (?:no labels|labels: ([^·\n]*?)) · '
        r'help: "((?:[^"\\]|\\.)*)"\s*$', re.M)
    families = {}
    for m in pattern.finditer(text):
        name, typ, labels, help_text = m.groups()
        labels = re.findall(r"`([a-z_]+)`", labels or "")
        families[name] = (typ, labels, help_text.replace('\\"', '"'))
    headings = re.findall(r"^### `((?:meshkv|grpc_server|process)_[a-z0-9_]+)`", text, re.M)
    missing = sorted(set(headings) - set(families))
    if missing:
        raise Failure(f"docs/metrics.md: sections without a well-formed type/labels/help line: {missing}")
    if len(families) < 30:
        raise Failure(f"docs/metrics.md documents only {len(families)} families")
    return families


def check_documented_families(ck, c):
    try:
        families = documented_families()
    except Failure as e:
        ck.failures.append(str(e))
        log(f"FAIL: {e}")
        return
    log(f"docs/metrics.md documents {len(families)} families")
    metadata = c.api("metadata")  # {name: [{type, help, unit}]}, from the scraped targets
    scrape_labels = {"__name__", "job", "instance", "node"}
    for name, (typ, labels, help_text) in sorted(families.items()):
        series = name + "_count" if typ == "histogram" else name
        # Present on every node.
        ck.per_node(f"count by (node) ({series})", lambda n, v: v >= 1,
                    what=f"{name}: scraped from every node", timeout=5)
        # Type and help as documented.
        meta = metadata.get(name, [])
        seen = {(m["type"], m["help"]) for m in meta}
        if seen != {(typ, help_text)}:
            ck.failures.append(f"{name}: docs/metrics.md says {typ}, help {help_text!r}; "
                               f"the server exposes {sorted(seen) or 'nothing'}")
            log(f"FAIL: {name}: type/help differ from docs/metrics.md: {sorted(seen)}")
        else:
            ck.passed += 1
        # Label names as documented (le belongs to the histogram's buckets).
        got = set()
        for labels_of_series, _ in c.query(series):
            got |= set(labels_of_series) - scrape_labels
        if got != set(labels):
            ck.failures.append(f"{name}: docs/metrics.md lists labels {sorted(labels)}, "
                               f"the server exposes {sorted(got)}")
            log(f"FAIL: {name}: labels {sorted(got)}, documented {sorted(labels)}")
        else:
            ck.passed += 1
    # And nothing undocumented.
    exposed = {n for n in metadata if n.startswith(("meshkv_", "grpc_server_", "process_"))}
    undocumented = sorted(exposed - set(families))
    if undocumented:
        ck.failures.append(f"families exposed but not in docs/metrics.md: {undocumented}")
        log(f"FAIL: undocumented families: {undocumented}")
    else:
        ck.passed += 1


def documented_queries():
    """The PromQL examples of docs/metrics.md: in each ```promql block, consecutive lines that are
    not comments form one query; and the queries of the table "Questions an operator asks"."""
    with open(METRICS_MD, encoding="utf-8") as f:
        text = f.read()
    queries = []
    for block in re.findall(r"^```promql\n(.*?)^```", text, re.M | re.S):
        current = []
        for line in block.splitlines() + ["#"]:
            if line.strip().startswith("#") or not line.strip():
                if current:
                    queries.append("\n".join(current))
                current = []
            else:
                current.append(line)
    table = text.split("## Questions an operator asks", 1)[-1].split("\n## ", 1)[0]
    for row in re.findall(r"^\| [^|]+ \| `([^`]+)`", table, re.M):
        queries.append(row)
    if len(queries) < 40:
        raise Failure(f"docs/metrics.md: only {len(queries)} PromQL examples found")
    return queries


def check_documented_queries(ck, c):
    """Every example query of docs/metrics.md runs against the live cluster without error."""
    bad = []
    try:
        queries = documented_queries()
    except Failure as e:
        ck.failures.append(str(e))
        log(f"FAIL: {e}")
        return
    for q in queries:
        try:
            c.api("query", query=q)
        except Failure as e:
            bad.append(f"{q!r}: {e}")
    if bad:
        ck.failures.append("docs/metrics.md queries Prometheus rejects:\n        " + "\n        ".join(bad))
        log(f"FAIL: {len(bad)} of {len(queries)} documented queries rejected")
    else:
        ck.passed += 1
        log(f"ok:   all {len(queries)} PromQL examples of docs/metrics.md run")


def write_everywhere(c):
    """Writes KEYS_PER_NODE keys through each node, with set, update and apply-delta."""
    for node, n in KEYS_PER_NODE.items():
        keys = [f"prom/{node}/{i}" for i in range(n)]
        c.must(node, "set", keys[0], f"v-{node}")
        c.must(node, "apply-delta", keys[1], "field=1")
        rest = keys[2:]
        c.must(node, "update", *[f"{k}=u-{node}" for k in rest[:2]])
        for k in rest[2:]:
            c.must(node, "set", k, f"v-{node}")
    # n1 renews one of its leases; n2 is refused n1's key.
    c.must("n1", "set", "prom/n1/0", "renewed")
    code, out, err = c.cli("n2", "set", "prom/n1/0", "stolen")
    if code != 4 or "FAILED_PRECONDITION" not in err:
        raise Failure(f"n2 set prom/n1/0: exit {code} ({err or out}), want 4 (refused) and FAILED_PRECONDITION")
    log(f"wrote {TOTAL_KEYS} keys (n1 {KEYS_PER_NODE['n1']}, n2 {KEYS_PER_NODE['n2']}, "
        f"n3 {KEYS_PER_NODE['n3']}), renewed one at n1, n2 refused one")


def run(c, ck):

    c.start_node("n1")
    c.wait_serving("n1")
    for n in ("n2", "n3"):
        c.start_node(n, join=c.nodes["n1"]["mesh"])
    for n in ("n2", "n3"):
        c.wait_serving(n)
    c.start_prometheus()

    # --- before any write: every target up, the mesh formed, a first sample of every counter.
    ck.per_node('up{job="meshkv"}', 1)
    ck.per_node("meshkv_node_synced", 1)
    ck.per_node("meshkv_peers_connected", 2)
    ck.per_node("meshkv_peers_wanted", 2)
    ck.per_node("meshkv_replication_writes_applied_total", 0)
    ck.per_node('meshkv_leases_active{owner="self"}', 0)
    if ck.failures:
        raise Failure("the cluster is not healthy before any write; not going on")

    write_everywhere(c)

    # --- leases.
    ck.per_node("meshkv_store_keys", TOTAL_KEYS)
    ck.per_node('meshkv_leases_active{owner="self"}', lambda n, v: v == KEYS_PER_NODE[n],
                what=f'meshkv_leases_active{{owner="self"}} == keys written through the node {KEYS_PER_NODE}')
    ck.per_node('meshkv_leases_active{owner="other"}',
                lambda n, v: v == TOTAL_KEYS - KEYS_PER_NODE[n],
                what='meshkv_leases_active{owner="other"} == keys written through the other nodes')
    ck.eventually(f'sum(meshkv_leases_active{{owner="self"}}) == {TOTAL_KEYS} (each key has one owner)',
                  lambda: (lambda r: (r == [TOTAL_KEYS], r))(
                      [v for _, v in c.query('sum(meshkv_leases_active{owner="self"})')]))
    ck.per_node('meshkv_lease_acquired_total{owner="self"}', lambda n, v: v == KEYS_PER_NODE[n],
                what='meshkv_lease_acquired_total{owner="self"} == keys written through the node')
    ck.per_node('meshkv_lease_acquired_total{owner="other"}',
                lambda n, v: v == TOTAL_KEYS - KEYS_PER_NODE[n],
                what='meshkv_lease_acquired_total{owner="other"} == keys written elsewhere')
    ck.per_node('meshkv_lease_renewed_total{owner="self"}', lambda n, v: v == (n == "n1"),
                what='meshkv_lease_renewed_total{owner="self"}: 1 at n1 (its renewal), 0 elsewhere')
    ck.per_node('meshkv_lease_renewed_total{owner="other"}', lambda n, v: v == (n != "n1"),
                what='meshkv_lease_renewed_total{owner="other"}: 1 at n2 and n3 (n1\'s renewal), 0 at n1')
    ck.per_node("meshkv_lease_refused_total", lambda n, v: v == (n == "n2"),
                what="meshkv_lease_refused_total: 1 at n2 (the refused write), 0 elsewhere")
    ck.per_node('meshkv_lease_expired_total{owner="self"}', 0)

    # --- replication.
    ck.per_node("increase(meshkv_replication_writes_applied_total[5m])", lambda n, v: v > 0,
                what="increase(meshkv_replication_writes_applied_total[5m]) > 0 on every node")
    # Every write that entered elsewhere (their keys, plus n1's renewal) is applied once when
    # flooded; were anti-entropy faster for a key (it runs every 5 s), that key is repaired instead,
    # once for both of n1's writes to it. So applied + repaired lies between the keys and the
    # writes that entered elsewhere, and equals the writes when flooding won every race.
    ck.per_node("meshkv_replication_writes_applied_total + meshkv_antientropy_keys_repaired_total",
                lambda n, v: TOTAL_KEYS - KEYS_PER_NODE[n] <= v <= TOTAL_KEYS - KEYS_PER_NODE[n] + (n != "n1"),
                what="meshkv_replication_writes_applied_total (+ keys repaired) == writes that entered at other nodes")
    ck.per_node("meshkv_replication_writes_originated_total",
                lambda n, v: v == KEYS_PER_NODE[n] + (n == "n1"),
                what="meshkv_replication_writes_originated_total == writes that entered at the node")
    ck.per_node("meshkv_replication_writes_received_total - meshkv_replication_duplicates_dropped_total"
                " - meshkv_replication_writes_applied_total", lambda n, v: v >= 0,
                what="writes received >= applied + duplicates dropped")
    ck.per_node("meshkv_replication_lag_seconds_count", lambda n, v: v > 0,
                what="meshkv_replication_lag_seconds observed writes on every node")
    ck.per_node("histogram_quantile(0.99, sum by (node, le) "
                "(rate(meshkv_replication_lag_seconds_bucket[5m])))",
                lambda n, v: 0 <= v < 5, what="replication lag p99 is a number under 5 s on every node")
    ck.per_node("meshkv_replication_batch_size_count", lambda n, v: v > 0,
                what="meshkv_replication_batch_size counted batches on every node")
    ck.per_node('meshkv_antientropy_rounds_total{result="completed"}', lambda n, v: v > 0,
                what="anti-entropy rounds completed on every node")
    ck.per_node("sum by (node) (meshkv_replication_send_queue_drops_total)", 0)

    # --- mesh traffic per peer.
    ck.series_per_peer('meshkv_mesh_frames_sent_total{type="write_batch"}',
                       'meshkv_mesh_frames_sent_total{type="write_batch"} > 0 for each peer of each node')
    ck.series_per_peer('meshkv_mesh_frames_received_total{type="write_batch"}',
                       'meshkv_mesh_frames_received_total{type="write_batch"} > 0 for each peer of each node')
    ck.series_per_peer('meshkv_mesh_frames_sent_total{type="ping"}',
                       'meshkv_mesh_frames_sent_total{type="ping"} > 0 for each peer of each node')
    ck.series_per_peer('meshkv_mesh_bytes_sent_total{type="write_batch"}',
                       'meshkv_mesh_bytes_sent_total{type="write_batch"} > 0 for each peer of each node')
    ck.series_per_peer('meshkv_mesh_bytes_received_total{type="write_batch"}',
                       'meshkv_mesh_bytes_received_total{type="write_batch"} > 0 for each peer of each node')
    ck.series_per_peer("meshkv_peer_rtt_seconds + 1e-9",
                       "meshkv_peer_rtt_seconds for each peer of each node")

    # --- gRPC.
    ck.per_node('sum by (node) (grpc_server_handled_total{grpc_service="meshkv.v1.KeyValue",grpc_method="Set",grpc_code="OK"})',
                lambda n, v: v >= 1, what="Set requests with code OK counted on every node")
    ck.per_node('sum by (node) (grpc_server_handled_total{grpc_method="Set",grpc_code="FailedPrecondition"}) '
                'or sum by (node) (up{job="meshkv"}) * 0', lambda n, v: v == (n == "n2"),
                what="Set FAILED_PRECONDITION counted once, at n2")
    ck.per_node('sum by (node) (grpc_server_handling_seconds_count{grpc_method="Set"})',
                lambda n, v: v >= 1, what="Set latency observed on every node")

    # --- every documented family, as documented.
    check_documented_families(ck, c)
    check_documented_queries(ck, c)

    # --- the alert rules: evaluated without error; quiet while healthy.
    def rules_ok():
        rules = [r for g in c.api("rules", type="alert")["groups"] for r in g["rules"]]
        state = {r["name"]: (r["health"], r.get("lastError", "")) for r in rules}
        ok = set(ALERTS) <= set(state) and all(h == "ok" for h, _ in state.values())
        return ok, state
    ck.eventually(f"alerts.yml loaded, every rule evaluated without error ({len(ALERTS)} alerts)", rules_ok)

    def quiet():
        alerts = c.api("alerts")["alerts"]
        return not alerts, [(a["labels"].get("alertname"), a["labels"].get("node"), a["state"])
                            for a in alerts]
    ck.eventually("no alert pending or firing in the healthy cluster", quiet)

    # --- n3 goes away: its node-down alert and the others' peer alerts become active.
    status = c.nodes["n3"]["proc"].stop()
    if status != 0:
        ck.failures.append(f"n3: meshkv-server exited {status} on SIGTERM, want 0")
    log(f"n3 stopped (exit {status})")

    def active_after_stop():
        got = {(a["labels"].get("alertname"), a["labels"].get("node")): a["state"]
               for a in c.api("alerts")["alerts"]}
        want = [("MeshkvNodeDown", "n3"), ("MeshkvPeerDisconnected", "n1"),
                ("MeshkvPeerDisconnected", "n2")]
        return all(got.get(k) in ("pending", "firing") for k in want), got
    ck.eventually("after n3 stops: MeshkvNodeDown{node=n3}, MeshkvPeerDisconnected{node=n1,n2} active",
                  active_after_stop)
    ck.per_node('up{job="meshkv"}', lambda n, v: v == (n != "n3"),
                what="up: 1 for n1 and n2, 0 for n3")
    ck.per_node("meshkv_peers_wanted - meshkv_peers_connected", 1, nodes=["n1", "n2"],
                what="n1 and n2 each miss one neighbour (wanted - connected == 1)")


def main():
    bin_dir = os.environ.get("MESHKV_BIN_DIR")
    prometheus = os.environ.get("PROMETHEUS") or shutil.which("prometheus") or "/usr/bin/prometheus"
    if not bin_dir:
        print("cluster_test: MESHKV_BIN_DIR is not set", file=sys.stderr)
        return 1
    for path in (os.path.join(bin_dir, "meshkv-server"), os.path.join(bin_dir, "meshkv"), prometheus):
        if not os.access(path, os.X_OK):
            print(f"cluster_test: {path} is not an executable", file=sys.stderr)
            return 1

    # SIGTERM/SIGINT/SIGHUP (ctest, a terminal) end the run through the finally below.
    def on_signal(signum, frame):
        log(f"interrupted by signal {signum}: stopping everything")
        raise SystemExit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

    work = tempfile.mkdtemp(prefix="meshkv-prom-test.")
    cluster = Cluster(work, bin_dir, prometheus)
    ck = Checker(cluster)
    failures = ck.failures
    try:
        run(cluster, ck)
    except Failure as e:  # the run cannot go on; the failures so far stand
        failures.append(str(e))
        log(f"FAIL: {e}")
    finally:
        log(f"{ck.passed} checks passed, {len(failures)} failed")
        if failures:
            cluster.dump_logs()
        cluster.stop_all()
        if os.environ.get("MESHKV_KEEP_TMP") == "1":
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"\ncluster_test: {len(failures)} check(s) FAILED:", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        return 1
    log("cluster_test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
