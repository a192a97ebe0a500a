#!/usr/bin/python3
"""End-to-end test of docker-compose.yml on the local Docker engine.

Builds the images offline (meshkv with deploy/docker/build.sh, meshkv-prometheus and
meshkv-alertmanager with docker-compose, all FROM the local debian:bookworm-slim made by
scripts/docker-base-image.sh), checks that the meshkv image carries the version tag as well as
`local` and that the builds left no dangling image, starts the cluster under a unique compose
project with every host port picked by Docker (no clash with a cluster already running on the
host), and checks:

  1. the one-shot certs service makes the CA and a certificate per node, and exits 0; all three
     nodes become healthy (the image's HEALTHCHECK: `meshkv health`), the mesh on TLS (no node runs
     --insecure);
  2. a write through node1 is read through node3; each node's published gRPC and metrics ports answer,
     gRPC on TLS: a client with the client certificate reads, one without reaches Health only
     (UNAUTHENTICATED);
  2b. strangers on the compose network cannot join: one on plain TCP (--insecure) and one with a
     certificate from another CA are refused and counted (meshkv_mesh_connections_refused_total),
     never become peers, and get none of the data;
  3. Prometheus scrapes all three nodes (up{job="meshkv"} == 1 x3), loads the rule files of
     deploy/prometheus, sends alerts to Alertmanager, and evaluates every query of the Grafana
     dashboards without error;
  4. a key written through node2 is leased to it: node1 is refused with FAILED_PRECONDITION;
  5. node2 killed (docker kill), a write made while it is down: MeshkvNodeDown for node2 fires in
     Alertmanager's API; node2 started again: it reports SERVING with that write already present,
     still owns its lease (same node ID), and the alert resolves. (The test runs the shipped rule
     files with MeshkvNodeDown's `for:` shortened to NODE_DOWN_FOR, in a copy: see
     test_prometheus_config.)
  6. node3 disconnected from the compose network, one key written on each side, node3 reconnected:
     all three nodes converge to the same keys and values.
  7. `docker-compose down` (without -v) and `up`: each node loads the keys from its own volume
     (meshkv_storage_records_loaded), every key comes back on every node with its value and owner,
     and leases are still enforced; the certificates are kept (the certs service makes none);
  8. `docker-compose down -v` and `up`: the volumes are gone and every node starts empty, with new
     certificates;
  9. `docker-compose stop`: SIGTERM, exit 0 in time.

The project is torn down (down -v) on every exit path. Exit status: 0 all checks passed, 1 a check
failed, 77 skipped because no Docker engine answers.

Environment: MESHKV_BUILD_JOBS (compile parallelism of the image build, default 2),
MESHKV_COMPOSE ("docker-compose" or "docker compose"; default: whichever exists),
MESHKV_COMPOSE_TEST_KEEP=1 (on failure, leave the project running for inspection).
"""

import calendar
import json
import os
import re
import secrets
import shutil
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
COMPOSE_FILE = os.path.join(REPO, "docker-compose.yml")
NODES = ("node1", "node2", "node3")
SKIP = 77
START = time.monotonic()
# Everything HTTP here goes to 127.0.0.1: never through an http_proxy from the environment.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# MeshkvNodeDown waits `for: 1m` in deploy/prometheus/alerts.yml; the test's copy waits this long.
NODE_DOWN_FOR = "10s"


class Failure(Exception):
    """A check failed."""


def log(msg):
    print(f"[{time.monotonic() - START:6.1f}s] {msg}", flush=True)


def run(cmd, *, check=True, timeout=60, env=None, quiet=False):
    """Runs cmd; returns the CompletedProcess (text). Raises Failure if check and it fails."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise Failure(f"timed out after {timeout}s: {shlex.join(cmd)}") from e
    if check and p.returncode != 0:
        raise Failure(f"exit {p.returncode}: {shlex.join(cmd)}\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
    if not quiet and p.returncode != 0:
        log(f"  (exit {p.returncode}) {shlex.join(cmd)}: {p.stderr.strip()[-300:]}")
    return p


def wait_until(what, fn, timeout, interval=0.5):
    """Polls fn() until it returns True, or fails when timeout seconds pass. Anything else fn
    returns (False, or a description of the state seen) is reported in the Failure."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            result = fn()
            if result is True:
                return
            last = result
        except Failure as e:
            last = e
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout}s waiting for {what} (last: {last})")
        time.sleep(interval)


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def compose_command():
    override = os.environ.get("MESHKV_COMPOSE")
    if override:
        return shlex.split(override)
    for cmd in (["docker-compose"], ["docker", "compose"]):
        try:
            if subprocess.run(cmd + ["version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=30).returncode == 0:
                return cmd
        except (OSError, subprocess.TimeoutExpired):
            pass
    raise Failure("neither docker-compose nor `docker compose` works")


class Cluster:
    """One compose project of docker-compose.yml, with helpers to reach its containers."""

    def __init__(self, compose):
        self.project = f"meshkvtest{os.getpid()}{secrets.token_hex(3)}"
        self.compose = compose
        self.env = dict(os.environ)
        self.env.update({
            "MESHKV_PUBLISH_ADDR": "127.0.0.1",
            "MESHKV_BUILD_JOBS": os.environ.get("MESHKV_BUILD_JOBS", "2"),
        })
        for var in ("MESHKV_NODE1_GRPC_PORT", "MESHKV_NODE2_GRPC_PORT", "MESHKV_NODE3_GRPC_PORT",
                    "MESHKV_NODE1_METRICS_PORT", "MESHKV_NODE2_METRICS_PORT",
                    "MESHKV_NODE3_METRICS_PORT", "MESHKV_PROMETHEUS_PORT", "MESHKV_ALERTMANAGER_PORT",
                    "MESHKV_GRAFANA_PORT"):
            self.env[var] = "0"  # Docker picks a free host port.
        self.env.pop("COMPOSE_PROJECT_NAME", None)
        self.env.pop("COMPOSE_PROFILES", None)
        self.prometheus_config = test_prometheus_config()
        self.env["MESHKV_PROMETHEUS_CONFIG"] = self.prometheus_config
        self.ids = {}

    def dc(self, *args, timeout=120, check=True):
        return run(self.compose + ["-f", COMPOSE_FILE, "-p", self.project, *args],
                   env=self.env, timeout=timeout, check=check)

    def image(self):
        return self.env.get("MESHKV_IMAGE", "meshkv:local")

    def forget_containers(self):
        """After `down` and `up`, services run in new containers."""
        self.ids = {}

    def container(self, service):
        if service not in self.ids:
            cid = self.dc("ps", "-q", service).stdout.strip()
            check(cid, f"no container for service {service}")
            self.ids[service] = cid
        return self.ids[service]

    def inspect(self, service, fmt):
        return run(["docker", "inspect", "-f", fmt, self.container(service)]).stdout.strip()

    def health(self, service):
        return self.inspect(service, "{{if .State.Health}}{{.State.Health.Status}}{{end}}")

    def running(self, service):
        return self.inspect(service, "{{.State.Running}}") == "true"

    def host_port(self, service, port):
        # `docker port`, not `docker-compose port`: the same answer without a compose start-up (~0.7 s).
        out = run(["docker", "port", self.container(service), f"{port}/tcp"]).stdout.strip()
        m = re.search(r":(\d+)$", out.splitlines()[0] if out else "")
        check(m, f"no published port for {service}:{port}: {out!r}")
        return int(m.group(1))

    def kv(self, node, *args, timeout="3s"):
        """Runs the meshkv CLI inside node's container against that node; returns the process."""
        return run(["docker", "exec", self.container(node), "meshkv", "--timeout", timeout, *args],
                   check=False, quiet=True, timeout=30)

    def get(self, node, key):
        p = self.kv(node, "get", key)
        if p.returncode == 1:
            return None
        if p.returncode != 0:
            raise Failure(f"{node}: get {key}: exit {p.returncode}: {p.stderr.strip()}")
        return p.stdout

    def set(self, node, key, value):
        p = self.kv(node, "set", key, value)
        check(p.returncode == 0, f"{node}: set {key}: exit {p.returncode}: {p.stderr.strip()}")

    def keys(self, node):
        p = self.kv(node, "keys")
        if p.returncode != 0:
            raise Failure(f"{node}: keys: exit {p.returncode}: {p.stderr.strip()}")
        return p.stdout.splitlines()

    def serving(self, node):
        return self.kv(node, "health", timeout="2s").returncode == 0

    def items(self, node):
        """{key: (value, owner)} from `meshkv items` (KEY=VALUE owner=OWNER rev=.. ts=.. [lease=..])."""
        p = self.kv(node, "items")
        if p.returncode != 0:
            raise Failure(f"{node}: items: exit {p.returncode}: {p.stderr.strip()}")
        out = {}
        for line in p.stdout.splitlines():
            m = re.match(r"^(\S+?)=(\S+) owner=(\S+) ", line)
            check(m, f"{node}: unexpected items line {line!r}")
            out[m.group(1)] = (m.group(2), m.group(3))
        return out

    def volumes(self):
        return run(["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={self.project}"],
                   timeout=60).stdout.split()


def test_prometheus_config():
    """A copy of deploy/prometheus in which MeshkvNodeDown fires after NODE_DOWN_FOR instead of 1m,
    so that the test sees it fire and resolve in well under a minute; nothing else differs."""
    src = os.path.join(REPO, "deploy", "prometheus")
    dst = tempfile.mkdtemp(prefix="meshkv-compose-prometheus-")
    os.chmod(dst, 0o755)  # The image's prometheus user reads it.
    for name in os.listdir(src):
        if name.endswith((".yml", ".yaml")):
            shutil.copy(os.path.join(src, name), dst)
            os.chmod(os.path.join(dst, name), 0o644)
    path = os.path.join(dst, "alerts.yml")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    shortened, n = re.subn(r"(- alert: MeshkvNodeDown\n(?:\s+expr: .*\n))(\s+)for: 1m\n",
                           rf"\1\2for: {NODE_DOWN_FOR}\n", text)
    check(n == 1, "deploy/prometheus/alerts.yml: no `for: 1m` right after MeshkvNodeDown's expr to shorten")
    with open(path, "w", encoding="utf-8") as f:
        f.write(shortened)
    return dst


def am_alerts(port, alertname, instance):
    """Alertmanager's active alerts (API v2) named alertname for instance: a list of their states."""
    try:
        with HTTP.open(f"http://127.0.0.1:{port}/api/v2/alerts", timeout=5) as r:
            alerts = json.load(r)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise Failure(f"Alertmanager alerts: {e}") from e
    now = time.time()
    out = []
    for a in alerts:
        labels = a.get("labels", {})
        if labels.get("alertname") != alertname or labels.get("instance") != instance:
            continue
        # A resolved alert has endsAt in the past (the API may still list it for a while).
        ends = a.get("endsAt", "")
        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", ends)
        if m and calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) < now:
            continue
        out.append(a.get("status", {}).get("state"))
    return out


def dangling_images():
    return set(run(["docker", "images", "-q", "--no-trunc", "-f", "dangling=true"], timeout=60).stdout.split())


def build_images(c):
    """deploy/docker/build.sh (meshkv:local, meshkv:<version>), then docker-compose build (Prometheus,
    Alertmanager): both tags name one image, and no build leaves a dangling image behind."""
    before = dangling_images()
    run([os.path.join(REPO, "deploy", "docker", "build.sh")], env=c.env, timeout=3600)
    c.dc("build", timeout=3600)
    version = re.search(r"^project\(meshkv VERSION ([0-9.]+)", open(os.path.join(REPO, "CMakeLists.txt"),
                        encoding="utf-8").read(), re.M).group(1)
    ids = {tag: run(["docker", "image", "inspect", "-f", "{{.Id}}", tag], timeout=60).stdout.strip()
           for tag in ("meshkv:local", f"meshkv:{version}")}
    check(len(set(ids.values())) == 1, f"meshkv:local and meshkv:{version} are different images: {ids}")
    new = dangling_images() - before
    check(not new, f"the image builds left dangling images: {sorted(new)}")
    log(f"meshkv:local = meshkv:{version} ({ids['meshkv:local'][7:19]}); no dangling image left")


def prom_query(port, expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with HTTP.open(url, timeout=5) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        body = json.load(e)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise Failure(f"Prometheus query {expr!r}: {e}") from e
    return body


def metric(port, name):
    """The value of an unlabelled sample `name` on the /metrics endpoint at 127.0.0.1:port."""
    text = http_get(f"http://127.0.0.1:{port}/metrics")
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    check(m, f"metric {name} not found on port {port}")
    return float(m.group(1))


def sample(port, series):
    """The value of the sample `series` (name{labels} exactly as exposed) at 127.0.0.1:port; 0 if absent."""
    text = http_get(f"http://127.0.0.1:{port}/metrics")
    m = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def http_get(url):
    try:
        with HTTP.open(url, timeout=5) as r:
            return r.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        raise Failure(f"GET {url}: {e}") from e


def leftovers(project):
    """Containers, networks and volumes of a compose project that still exist."""
    label = f"label=com.docker.compose.project={project}"
    left = {}
    for kind, cmd in (("containers", ["docker", "ps", "-aq"]), ("networks", ["docker", "network", "ls", "-q"]),
                      ("volumes", ["docker", "volume", "ls", "-q"])):
        ids = run(cmd + ["--filter", label], check=False, timeout=60).stdout.split()
        if ids:
            left[kind] = ids
    return left


def step(title):
    log(f"== {title}")


def certs_log(c):
    """What the one-shot certs service printed in its latest run (`created ...` lines)."""
    return c.dc("logs", "--no-color", "certs").stdout


def test(c):
    # --- 1. Up and healthy ---------------------------------------------------------------------
    step("start the cluster")
    c.dc("up", "-d", "--no-build", timeout=180)
    for s in NODES + ("prometheus",):
        c.container(s)
    check(c.inspect("certs", "{{.State.ExitCode}}") == "0", f"certs service failed:\n{certs_log(c)}")
    made = certs_log(c)
    for what in ("ca.crt", "node1/node.crt", "node2/node.crt", "node3/node.crt", "client.root.crt"):
        check(what in made, f"the certs service did not make {what}:\n{made}")
    wait_until("node1..node3 healthy",
               lambda: all(c.health(n) == "healthy" for n in NODES) or
               {n: c.health(n) for n in NODES}, timeout=120, interval=1)
    for n in NODES:
        env = c.inspect(n, "{{json .Config.Env}}")
        check("MESHKV_INSECURE" not in env and "MESHKV_CERTS_DIR=/etc/meshkv/certs" in env,
              f"{n} does not run the mesh on TLS: {env}")
        logs = run(["docker", "logs", c.container(n)], timeout=30).stderr
        check("plain TCP" not in logs, f"{n} logs a plain-TCP mesh:\n{logs[-2000:]}")
    log("certificates made; all three nodes healthy on a TLS mesh")

    # --- 2. Replication and published ports -------------------------------------------------
    step("write through node1, read through node3")
    c.set("node1", "compose/hello", "world")
    wait_until("compose/hello on node3", lambda: c.get("node3", "compose/hello") == "world",
               timeout=30)

    step("published ports")
    # A client on the host, with the client certificate of the client-certs volume (the server's
    # certificate names 127.0.0.1).
    client = ["-v", f"{c.project}_client-certs:/etc/meshkv/client:ro",
              "-e", "MESHKV_CACERT=/etc/meshkv/client/ca.crt",
              "-e", "MESHKV_CERT=/etc/meshkv/client/client.root.crt",
              "-e", "MESHKV_KEY=/etc/meshkv/client/client.root.key"]
    for n in NODES:
        port = c.host_port(n, 50051)
        p = run(["docker", "run", "--rm", "--network", "host", *client, "--entrypoint", "meshkv",
                 c.image(), "--addr", f"127.0.0.1:{port}", "get", "compose/hello"], check=False,
                timeout=60)
        check(p.returncode == 0 and p.stdout == "world",
              f"{n}: get through published port {port}: exit {p.returncode} {p.stdout!r} {p.stderr!r}")
        # Without a client certificate: Health only (the probes' way in), nothing else.
        anon = ["docker", "run", "--rm", "--network", "host", *client[:4], "--entrypoint", "meshkv",
                c.image(), "--addr", f"127.0.0.1:{port}"]
        p = run(anon + ["health"], check=False, timeout=60)
        check(p.returncode == 0, f"{n}: health without a client certificate: exit {p.returncode} {p.stderr!r}")
        p = run(anon + ["get", "compose/hello"], check=False, timeout=60)
        check(p.returncode != 0 and "UNAUTHENTICATED" in p.stderr,
              f"{n}: get without a client certificate: exit {p.returncode} {p.stdout!r} {p.stderr!r}")
        mport = c.host_port(n, 9464)
        check("meshkv_store_keys" in http_get(f"http://127.0.0.1:{mport}/metrics"),
              f"{n}: no meshkv metrics on published port {mport}")
        log(f"{n}: gRPC on 127.0.0.1:{port}, metrics on 127.0.0.1:{mport}")

    # --- 2b. Strangers cannot join ----------------------------------------------------------------
    step("a stranger without a certificate, and one with another CA's, cannot join")
    stranger_test(c)

    # --- 3. Prometheus --------------------------------------------------------------------------
    step("Prometheus scrapes the three nodes")
    pport = c.host_port("prometheus", 9090)

    def all_up():
        body = prom_query(pport, 'up{job="meshkv"}')
        res = body.get("data", {}).get("result", [])
        up = {r["metric"].get("instance"): r["value"][1] for r in res}
        return up == {f"{n}:9464": "1" for n in NODES} or up or body.get("error", "no series")

    wait_until('up{job="meshkv"} == 1 for node1..node3', all_up, timeout=90, interval=1)
    wait_until("prometheus healthy", lambda: c.health("prometheus") == "healthy" or c.health("prometheus"),
               timeout=60, interval=1)
    log(f"Prometheus on 127.0.0.1:{pport} scrapes node1..node3")

    def alertmanager_known():
        body = json.loads(http_get(f"http://127.0.0.1:{pport}/api/v1/alertmanagers"))
        active = [a.get("url", "") for a in body.get("data", {}).get("activeAlertmanagers", [])]
        return any("alertmanager:9093" in u for u in active) or active

    wait_until("Prometheus to know alertmanager:9093", alertmanager_known, timeout=60, interval=1)
    wait_until("alertmanager healthy", lambda: c.health("alertmanager") == "healthy" or c.health("alertmanager"),
               timeout=60, interval=1)
    aport = c.host_port("alertmanager", 9093)
    check(am_alerts(aport, "MeshkvNodeDown", "node2:9464") == [], "MeshkvNodeDown for node2 before any node went down")
    log(f"Alertmanager on 127.0.0.1:{aport} receives Prometheus' alerts")

    rule_files = sorted(
        f for f in os.listdir(os.path.join(REPO, "deploy", "prometheus"))
        if f.endswith((".yml", ".yaml")) and re.search(
            r"^groups:", open(os.path.join(REPO, "deploy", "prometheus", f), encoding="utf-8").read(), re.M))
    rules = json.loads(http_get(f"http://127.0.0.1:{pport}/api/v1/rules"))["data"]["groups"]
    loaded = sorted({os.path.basename(g["file"]) for g in rules})
    expected = sorted({re.sub(r"\.yaml$", ".yml", f) for f in rule_files})
    check(loaded == expected, f"Prometheus rule files: loaded {loaded}, expected {expected}")
    log(f"rule files loaded: {loaded or 'none (deploy/prometheus has no rule file yet)'}")

    step("every Grafana dashboard query is valid PromQL")
    dash_dir = os.path.join(REPO, "deploy", "grafana", "dashboards")
    nqueries = 0
    for name in sorted(os.listdir(dash_dir)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(dash_dir, name), encoding="utf-8") as f:
            dash = json.load(f)
        for panel in dash.get("panels", []):
            for t in panel.get("targets", []):
                expr = t["expr"].replace("$__rate_interval", "1m").replace("$instance", ".*")
                body = prom_query(pport, expr)
                check(body.get("status") == "success",
                      f"{name}: panel {panel.get('title')!r}: {body.get('error')}: {expr}")
                nqueries += 1
    check(nqueries > 0, "no dashboard queries found")
    log(f"{nqueries} dashboard queries evaluated")

    # --- 4. Leases --------------------------------------------------------------------------------
    step("a key written through node2 is leased to node2")
    c.set("node2", "compose/lease2", "mine")
    wait_until("compose/lease2 on node1", lambda: c.get("node1", "compose/lease2") == "mine", timeout=30)
    p = c.kv("node1", "set", "compose/lease2", "theirs")
    check(p.returncode == 4 and "FAILED_PRECONDITION" in p.stderr,
          f"node1 overwrote node2's lease: exit {p.returncode} {p.stderr.strip()!r}")
    check(metric(c.host_port("node1", 9464), "meshkv_lease_refused_total") >= 1,
          "node1 does not count the refused write in meshkv_lease_refused_total")

    # --- 5. Kill and restart node2 ----------------------------------------------------------------
    step("kill node2, write, start node2")
    run(["docker", "kill", c.container("node2")])
    wait_until("node2 stopped", lambda: not c.running("node2"), timeout=30)
    c.set("node1", "compose/while-node2-down", "written-at-node1")
    c.set("node3", "compose/while-node2-down-3", "written-at-node3")
    wait_until("node3 has the write", lambda: c.get("node3", "compose/while-node2-down") == "written-at-node1",
               timeout=30)
    t0 = time.monotonic()
    wait_until("MeshkvNodeDown for node2 active in Alertmanager",
               lambda: "active" in am_alerts(aport, "MeshkvNodeDown", "node2:9464") or
               am_alerts(aport, "MeshkvNodeDown", "node2:9464"), timeout=120, interval=1)
    log(f"MeshkvNodeDown{{instance=\"node2:9464\"}} active in Alertmanager {time.monotonic() - t0:.1f}s "
        f"after the kill (for: {NODE_DOWN_FOR})")
    # unless-stopped must not bring back a container the user killed.
    check(not c.running("node2"), "node2 was restarted by Docker after docker kill")
    run(["docker", "start", c.container("node2")])
    t0 = restarted = time.monotonic()
    wait_until("node2 SERVING", lambda: c.serving("node2"), timeout=60)
    log(f"node2 SERVING {time.monotonic() - t0:.1f}s after docker start")
    # SERVING means the first sync is done: the state written meanwhile must be there already.
    for key, want in (("compose/while-node2-down", "written-at-node1"),
                      ("compose/while-node2-down-3", "written-at-node3"), ("compose/hello", "world"),
                      ("compose/lease2", "mine")):
        got = c.get("node2", key)
        check(got == want, f"node2 SERVING but {key} = {got!r}, want {want!r}")
    p = c.kv("node2", "set", "compose/lease2", "still-mine")
    check(p.returncode == 0, f"restarted node2 lost its lease: exit {p.returncode} {p.stderr.strip()!r}")
    wait_until("node1 sees node2's renewed write", lambda: c.get("node1", "compose/lease2") == "still-mine",
               timeout=30)
    wait_until("node2 healthy (Docker)", lambda: c.health("node2") == "healthy" or c.health("node2"),
               timeout=60, interval=1)
    log("node2 caught up and kept its lease")
    wait_until("MeshkvNodeDown for node2 resolved in Alertmanager",
               lambda: am_alerts(aport, "MeshkvNodeDown", "node2:9464") == [] or
               am_alerts(aport, "MeshkvNodeDown", "node2:9464"), timeout=120, interval=1)
    log(f"MeshkvNodeDown for node2 resolved in Alertmanager (seen {time.monotonic() - restarted:.1f}s "
        "after docker start)")

    # --- 6. Partition node3 -----------------------------------------------------------------------
    step("disconnect node3 from the network, write on both sides, reconnect")
    nets = json.loads(c.inspect("node3", "{{json .NetworkSettings.Networks}}"))
    check(len(nets) == 1, f"node3 networks: {list(nets)}")
    net, settings = next(iter(nets.items()))
    aliases = [a for a in (settings.get("Aliases") or []) if a]
    mports = {n: c.host_port(n, 9464) for n in ("node1", "node2")}
    for n, port in mports.items():
        check(metric(port, "meshkv_peers_connected") == 2, f"{n}: not connected to both other nodes")
    run(["docker", "network", "disconnect", net, c.container("node3")])
    p = c.kv("node3", "--addr", "node1:50051", "health", timeout="1s")
    check(p.returncode != 0, "node3 still reaches node1 after network disconnect")
    # Let the mesh notice (heartbeat failure timeout): the heal must then go through reconnection
    # and anti-entropy, not just TCP retransmission of frames sent during the cut.
    t0 = time.monotonic()
    wait_until("node1 and node2 to drop node3",
               lambda: all(metric(port, "meshkv_peers_connected") == 1 for port in mports.values()),
               timeout=60)
    log(f"node1 and node2 dropped node3 after {time.monotonic() - t0:.1f}s")
    c.set("node1", "compose/side-a", "from-node1")
    c.set("node3", "compose/side-b", "from-node3")
    wait_until("node2 has side-a", lambda: c.get("node2", "compose/side-a") == "from-node1", timeout=30)
    check(c.get("node3", "compose/side-a") is None, "node3 got side-a while disconnected")
    check(c.get("node1", "compose/side-b") is None, "node1 got side-b while node3 was disconnected")
    connect = ["docker", "network", "connect"]
    for a in aliases:
        connect += ["--alias", a]
    run(connect + [net, c.container("node3")])
    t0 = time.monotonic()
    want = {"compose/side-a": "from-node1", "compose/side-b": "from-node3"}

    def converged():
        for n in NODES:
            for k, v in want.items():
                if c.get(n, k) != v:
                    return f"{n}: {k} = {c.get(n, k)!r}"
        key_sets = {n: c.keys(n) for n in NODES}
        if not key_sets["node1"] == key_sets["node2"] == key_sets["node3"]:
            return f"key sets differ: {key_sets}"
        return True

    wait_until("convergence after reconnecting node3", converged, timeout=120, interval=1)
    log(f"converged {time.monotonic() - t0:.1f}s after reconnect: "
        f"{len(c.keys('node1'))} keys equal on all nodes")
    check(all(c.serving(n) for n in NODES), "a node is not SERVING at the end")

    # --- 7. down, up: the data is on the volumes -------------------------------------------------
    step("write through every node, docker-compose down (keeps volumes), up: every key is back")
    for i, n in enumerate(NODES):
        pairs = [f"durable/{n}/{j}=v{j}-{n}" for j in range(10)]
        p = c.kv(n, "update", *pairs)
        check(p.returncode == 0, f"{n}: update: exit {p.returncode}: {p.stderr.strip()}")

    def same_items():
        seen = {n: c.items(n) for n in NODES}
        return seen["node1"] == seen["node2"] == seen["node3"] or {n: len(v) for n, v in seen.items()}

    wait_until("the durable/ keys on every node", same_items, timeout=30)
    before = c.items("node1")
    for n in NODES:
        for j in range(10):
            check(before.get(f"durable/{n}/{j}") == (f"v{j}-{n}", n),
                  f"durable/{n}/{j} = {before.get(f'durable/{n}/{j}')!r} before down, want ('v{j}-{n}', {n!r})")
    check(before.get("compose/lease2") == ("still-mine", "node2"), f"compose/lease2 = {before.get('compose/lease2')}")
    t0 = time.monotonic()
    c.dc("down", "--timeout", "20", timeout=120)
    vols = c.volumes()
    for n in NODES:
        check(any(v.endswith(f"_{n}-data") for v in vols), f"{n}-data volume gone after down: {vols}")
    c.forget_containers()
    c.dc("up", "-d", "--no-build", timeout=180)
    wait_until("node1..node3 SERVING after up", lambda: all(c.serving(n) for n in NODES), timeout=60)
    log(f"down + up + SERVING in {time.monotonic() - t0:.1f}s")
    check("created" not in certs_log(c), f"the certs service re-made kept certificates:\n{certs_log(c)}")
    for n in NODES:
        # Every node read the dictionary from its own disk, not only from a peer that did.
        loaded = metric(c.host_port(n, 9464), "meshkv_storage_records_loaded")
        check(loaded >= len(before), f"{n} loaded {loaded:.0f} records from its volume, want >= {len(before)}")
        after = c.items(n)
        check(after == before, f"{n} after down/up: {len(after)} keys, want the {len(before)} from before; "
              f"missing or changed: {sorted(k for k in before if after.get(k) != before[k])[:10]}, "
              f"new: {sorted(set(after) - set(before))[:10]}")
    p = c.kv("node1", "set", "durable/node2/0", "theirs")
    check(p.returncode == 4 and "FAILED_PRECONDITION" in p.stderr,
          f"after down/up node1 overwrote node2's key: exit {p.returncode} {p.stderr.strip()!r}")
    log(f"{len(before)} keys back on every node with their owners, loaded from each node's own volume")

    # --- 8. down -v, up: empty ----------------------------------------------------------------
    step("docker-compose down -v, up: the dictionary is empty")
    t0 = time.monotonic()
    c.dc("down", "-v", "--timeout", "20", timeout=120)
    vols = c.volumes()
    check(not vols, f"volumes left after down -v: {vols}")
    c.forget_containers()
    c.dc("up", "-d", "--no-build", timeout=180)
    wait_until("node1..node3 SERVING after down -v + up", lambda: all(c.serving(n) for n in NODES), timeout=60)
    for n in NODES:
        keys = c.keys(n)
        check(keys == [], f"{n} after down -v + up has keys: {keys[:10]}")
    check("ca.crt" in certs_log(c), f"no new CA after down -v:\n{certs_log(c)}")
    log(f"down -v + up: every node empty ({time.monotonic() - t0:.1f}s)")

    # --- 9. Graceful stop -------------------------------------------------------------------------
    step("docker-compose stop: SIGTERM, exit 0")
    t0 = time.monotonic()
    c.dc("stop", "--timeout", "20", *NODES, timeout=120)
    took = time.monotonic() - t0
    codes = {n: c.inspect(n, "{{.State.ExitCode}}") for n in NODES}
    check(all(code == "0" for code in codes.values()), f"exit codes after SIGTERM: {codes}")
    check(took < 18, f"stopping the nodes took {took:.1f}s: SIGTERM not handled, Docker had to SIGKILL")
    log(f"nodes stopped in {took:.1f}s, exit codes 0")


def stranger_test(c):
    """Two processes on the compose network dial node1's mesh port the way a member would."""
    nets = json.loads(c.inspect("node1", "{{json .NetworkSettings.Networks}}"))
    net = next(iter(nets))
    mport = c.host_port("node1", 9464)
    refused = 'meshkv_mesh_connections_refused_total{reason="certificate"}'
    common = ["--cluster", "meshkv-compose", "--join", "node1:4444", "--initial-sync-timeout", "1s",
              "--metrics-addr", "127.0.0.1:9464"]
    strangers = {
        # Plain TCP, chosen explicitly: no certificate at all.
        "plain": ["meshkv-server", "--insecure", "--node-id", "node4", *common],
        # A certificate of its own CA, naming a member's ID (node2) and a node ID of its own.
        "other-ca": ["sh", "-euc",
                     "meshkv-certs create-ca --certs-dir /tmp/c >/dev/null && "
                     "meshkv-certs create-node --certs-dir /tmp/c --node-id node2 --host node2 --host 127.0.0.1 "
                     ">/dev/null && "
                     'exec meshkv-server --certs-dir /tmp/c --node-id node2 "$@"', "sh", *common],
    }
    for name, cmd in strangers.items():
        before = sample(mport, refused)
        cid = run(["docker", "run", "-d", "--rm", "--network", net, "--label",
                   f"com.docker.compose.project={c.project}", "--entrypoint", cmd[0], c.image(), *cmd[1:]],
                  timeout=60).stdout.strip()
        try:
            wait_until(f"node1 to refuse the {name} stranger",
                       lambda: sample(mport, refused) > before or sample(mport, refused), timeout=30)
            # Refused for good: it keeps redialling and keeps being refused, and never becomes a peer.
            n = sample(mport, refused)
            wait_until(f"node1 to refuse the {name} stranger again", lambda: sample(mport, refused) > n,
                       timeout=30)
            check(metric(mport, "meshkv_peers_connected") == 2,
                  f"node1 has {metric(mport, 'meshkv_peers_connected')} peers with the {name} stranger around")
            # Its own node (through its own CA where it has one): nothing of the cluster's data.
            own_ca = ["-e", "MESHKV_CACERT=/tmp/c/ca.crt"] if name == "other-ca" else []
            p = run(["docker", "exec", *own_ca, cid, "meshkv", "--timeout", "2s", "get", "compose/hello"],
                    check=False, timeout=30)
            check(p.returncode == 1, f"the {name} stranger has compose/hello: exit {p.returncode} {p.stdout!r}")
            logs = run(["docker", "logs", cid], check=False, timeout=30)
            log(f"{name} stranger refused ({sample(mport, refused):.0f} certificate refusals on node1); "
                f"its log: {(logs.stderr.strip().splitlines() or [''])[-1][:160]}")
        finally:
            run(["docker", "rm", "-f", cid], check=False, timeout=60)
    check(c.get("node3", "compose/hello") == "world", "the cluster stopped replicating after the strangers")


def main():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: sys.exit(128 + s))

    try:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=30)
        engine_ok = info.returncode == 0 and info.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        engine_ok = False
    if not engine_ok:
        print("SKIP: no Docker engine answers (docker info failed)", flush=True)
        return SKIP
    log(f"Docker engine {info.stdout.strip()}")

    c = None
    ok = False
    try:
        compose = compose_command()
        log(f"compose: {shlex.join(compose)}")
        step("base image debian:bookworm-slim (scripts/docker-base-image.sh)")
        run([os.path.join(REPO, "scripts", "docker-base-image.sh")], timeout=900)
        c = Cluster(compose)
        for profile in ([], ["--profile", "grafana"]):
            c.dc(*profile, "config", "-q")
        step(f"build images (BUILD_JOBS={c.env['MESHKV_BUILD_JOBS']})")
        t0 = time.monotonic()
        build_images(c)
        log(f"images built in {time.monotonic() - t0:.1f}s")
        log(f"compose project {c.project}")
        test(c)
        ok = True
    except Failure as e:
        log(f"FAIL: {e}")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # Let the teardown finish.
        if c is not None:
            if not ok and c.ids:
                logs = c.dc("logs", "--no-color", "--tail", "40", check=False, timeout=60)
                print(logs.stdout[-20000:], flush=True)
            if not ok and c.ids and os.environ.get("MESHKV_COMPOSE_TEST_KEEP") == "1":
                log(f"kept project {c.project}: docker-compose -p {c.project} down -v")
            else:
                step("tear down")
                c.dc("down", "-v", "--remove-orphans", "--timeout", "10", check=False, timeout=180)
                left = leftovers(c.project)
                if left:
                    log(f"FAIL: left behind after down -v: {left}")
                    ok = False
            shutil.rmtree(c.prometheus_config, ignore_errors=True)
    log("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
