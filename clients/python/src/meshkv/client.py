"""The meshkv client: endpoints with failover, per-call deadlines, TLS, typed helpers.

A Client is safe to use from several threads at once (the gRPC channels are; the
endpoint choice is guarded by a lock). Every method raises grpc.RpcError on
failure, with the server's status code (docs/design.md, "Status codes").
"""

import random
import threading
import time

import grpc

from meshkv.v1 import cluster_pb2, cluster_pb2_grpc, kv_pb2, kv_pb2_grpc

DEFAULT_TIMEOUT = 10.0  # seconds: every call's deadline unless given
DEFAULT_CONNECT_TIMEOUT = 3.0  # seconds one endpoint may take to connect before the next is tried


class _Absent:
    def __repr__(self):
        return "meshkv.ABSENT"


# precondition=ABSENT: the write happens only if the key has no live value (Redis SET NX).
ABSENT = _Absent()


class Error(grpc.RpcError):
    """A failure the client itself decided, with a status code as the server's errors have."""

    status_code = grpc.StatusCode.UNKNOWN

    def __init__(self, details):
        super().__init__(details)
        self._details = details

    def code(self):
        return self.status_code

    def details(self):
        return self._details

    def __str__(self):
        return f"{self.status_code.name}: {self._details}"


class Unavailable(Error):
    """No endpoint could serve the call (each was unreachable or answered UNAVAILABLE)."""

    status_code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(Error):
    """The call's deadline passed before an endpoint could serve it."""

    status_code = grpc.StatusCode.DEADLINE_EXCEEDED


def as_bytes(data, what="key"):
    """Keys and byte values: bytes as they are, str as UTF-8."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    raise TypeError(f"{what} must be bytes or str, not {type(data).__name__}")


def as_value(value):
    """bytes/str -> a bytes value; a dict of field -> bytes/str -> a mapping; a kv_pb2.Value as it is."""
    if isinstance(value, kv_pb2.Value):
        return value
    if isinstance(value, dict):
        return kv_pb2.Value(mapping=as_mapping(value))
    return kv_pb2.Value(bytes=as_bytes(value, "value"))


def as_mapping(fields):
    return kv_pb2.Mapping(fields={str(k): as_bytes(v, "field value") for k, v in fields.items()})


def as_precondition(precondition):
    """None (unconditional), ABSENT, a kv_pb2.Version (e.g. entry.meta.version) or a kv_pb2.Precondition."""
    if precondition is None:
        return None
    if precondition is ABSENT:
        return kv_pb2.Precondition(absent=True)
    if isinstance(precondition, kv_pb2.Version):
        return kv_pb2.Precondition(version=precondition)
    if isinstance(precondition, kv_pb2.Precondition):
        return precondition
    raise TypeError("precondition must be meshkv.ABSENT, a kv_pb2.Version or a kv_pb2.Precondition, "
                    f"not {type(precondition).__name__}")


def read_file(path, what):
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"{what}: {e}") from e


def channel_credentials(cacert=None, cert=None, key=None):
    """None (plaintext) when no file is given; else TLS trusting cacert (the system's roots without it) and
    presenting cert and key (the CLI's --cacert --cert --key)."""
    if not (cacert or cert or key):
        return None
    if bool(cert) != bool(key):
        raise ValueError("cert and key go together")
    return grpc.ssl_channel_credentials(root_certificates=read_file(cacert, "cacert"),
                                        private_key=read_file(key, "key"),
                                        certificate_chain=read_file(cert, "cert"))


class _Endpoint:
    """One address and its channel, made on first use and kept until the client closes: calls in flight on
    it (a watch, other threads' calls) are never cut short because one call failed. A channel that failed
    to connect retries by itself, its backoff capped at a second (RECONNECT_OPTIONS; not
    grpc.min_reconnect_backoff_ms, which is also gRPC's connect timeout)."""

    RECONNECT_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]

    def __init__(self, addr, credentials, options):
        self.addr = addr
        self._credentials, self._options = credentials, self.RECONNECT_OPTIONS + list(options)
        self._cv = threading.Condition()
        self._channel = None  # guarded by _cv, as are the three below
        self._state = None
        self._was_ready = False
        self._attempts = 0  # CONNECTING transitions seen

    def _on_state(self, channel, state):
        with self._cv:
            if channel is self._channel:
                self._state = state
                self._was_ready = self._was_ready or state == grpc.ChannelConnectivity.READY
                self._attempts += state == grpc.ChannelConnectivity.CONNECTING
                self._cv.notify_all()

    def channel(self, timeout):
        """The channel once connected (READY, or idle after having been: the call reconnects), None if it
        cannot connect within timeout."""
        C = grpc.ChannelConnectivity
        with self._cv:
            if self._channel is None:
                if self._credentials is None:
                    channel = grpc.insecure_channel(self.addr, options=self._options)
                else:
                    channel = grpc.secure_channel(self.addr, self._credentials, options=self._options)
                self._channel = channel
                channel.subscribe(lambda state, ch=channel: self._on_state(ch, state), try_to_connect=True)
            # A failure seen before this call says nothing about now: wait for the channel's next attempt.
            attempts = self._attempts if self._state == C.TRANSIENT_FAILURE else -1

            def settled():
                return (self._state in (C.READY, C.SHUTDOWN) or (self._was_ready and self._state == C.IDLE) or
                        (self._state == C.TRANSIENT_FAILURE and self._attempts > attempts))

            self._cv.wait_for(settled, timeout)
            if self._state == C.READY or (self._was_ready and self._state == C.IDLE):
                return self._channel
            return None

    def close(self):
        with self._cv:
            if self._channel is not None:
                self._channel.close()
            self._channel, self._state, self._was_ready = None, None, False


class Client:
    """A meshkv client over one or more endpoints of the same cluster.

        with meshkv.Client(["10.0.0.1:50051", "10.0.0.2:50051"], timeout=5) as kv:
            meta = kv.set("config/mode", "blue", precondition=meshkv.ABSENT, ttl_ms=30_000)
            entry = kv.get("config/mode")            # None when absent
            for event in kv.watch("config/", start_revision=entry.meta.revision):
                ...

    The first reachable endpoint serves every call until it fails; a call that finds its endpoint
    unreachable or answered UNAVAILABLE (down, shutting down, not yet synced) moves on to the next, within
    the call's deadline (timeout= on each method, else the client's). A write answered UNAVAILABLE by a
    node may still have been applied there (docs/design.md, "Guarantees under faults"), so a retried
    write can apply twice: harmless for set, delete, update, apply_delta, touch and delete_prefix (the
    second has the same effect, or fails its precondition or with NOT_FOUND); pop and pop_item are never
    retried once sent.

    TLS: cacert (the CA that signed the nodes), cert and key (a client certificate, for nodes run with
    --client-ca), as the CLI's --cacert --cert --key; none of them: plaintext.
    """

    def __init__(self, endpoints, *, timeout=DEFAULT_TIMEOUT, connect_timeout=DEFAULT_CONNECT_TIMEOUT,
                 cacert=None, cert=None, key=None, options=()):
        if isinstance(endpoints, str):
            endpoints = [e for e in endpoints.split(",") if e]
        endpoints = list(endpoints)
        if not endpoints:
            raise ValueError("at least one endpoint (host:port) is needed")
        credentials = channel_credentials(cacert, cert, key)
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self._endpoints = [_Endpoint(addr, credentials, list(options)) for addr in endpoints]
        self._mu = threading.Lock()
        self._current = 0  # guarded by _mu: the endpoint that served last

    @property
    def endpoints(self):
        return [e.addr for e in self._endpoints]

    def close(self):
        for e in self._endpoints:
            e.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- the endpoint choice -------------------------------------------------

    def _connect(self, deadline, start=None):
        """Yields (index, channel) for each reachable endpoint in turn, from the current one, until the
        deadline; the caller stops at the first that serves. Raises Unavailable after the last."""
        with self._mu:
            first = self._current if start is None else start
        problems = []
        n = len(self._endpoints)
        for i in range(n):
            index = (first + i) % n
            endpoint = self._endpoints[index]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            channel = endpoint.channel(min(remaining, self.connect_timeout))
            if channel is None:
                problems.append(f"{endpoint.addr}: unreachable")
                continue
            failure = yield index, channel
            if failure is not None:
                problems.append(f"{endpoint.addr}: {failure}")
        if time.monotonic() >= deadline:
            raise DeadlineExceeded("deadline exceeded before an endpoint served the call" +
                                   "".join(f"; {p}" for p in problems))
        raise Unavailable("no endpoint could serve: " + "; ".join(problems))

    def _served_by(self, index):
        with self._mu:
            self._current = index

    def _with_failover(self, call, timeout, retry_sent=True):
        """call(channel, seconds left) on the current endpoint, then on the next ones while they are
        unreachable or answer UNAVAILABLE (only unreachable ones when retry_sent is false), until the
        deadline: `timeout` seconds from now, the client's when None."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        attempts = self._connect(deadline)
        index, channel = next(attempts)
        while True:
            try:
                result = call(channel, max(deadline - time.monotonic(), 0.001))
                self._served_by(index)
                return result
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or not retry_sent:
                    raise
                index, channel = attempts.send(f"UNAVAILABLE: {e.details()}")

    def _unary(self, method, request, timeout, retry_sent=True):
        return self._with_failover(
            lambda channel, left: getattr(kv_pb2_grpc.KeyValueStub(channel), method)(request, timeout=left),
            timeout, retry_sent)

    # --- reads ---------------------------------------------------------------

    def get(self, key, *, timeout=None):
        """The key's kv_pb2.Entry (value, meta), or None when absent."""
        resp = self._unary("Get", kv_pb2.GetRequest(key=as_bytes(key)), timeout)
        return resp.entry if resp.found else None

    def list(self, prefix=b"", *, keys_only=False, limit=0, start_after=b"", timeout=None):
        """The whole listing: a ListResult with entries (in key order), revision (watch from it to miss
        nothing) and more (the limit cut it short; resume with start_after=entries[-1].key)."""
        request = kv_pb2.ListRequest(prefix=as_bytes(prefix, "prefix"), keys_only=keys_only, limit=limit,
                                     start_after=as_bytes(start_after, "start_after"))
        return self._with_failover(lambda channel, left: _read_listing(channel, request, left), timeout)

    def count(self, prefix=b"", *, timeout=None):
        """The number of live keys under the prefix."""
        request = kv_pb2.ListRequest(prefix=as_bytes(prefix, "prefix"), count_only=True)
        return self._with_failover(lambda channel, left: _read_listing(channel, request, left).count, timeout)

    def watch(self, prefix=b"", *, start_revision=0, prev_value=False, progress_notify_ms=0,
              filter=kv_pb2.WatchRequest.ALL, keys_only=False, resync=False, reconnect_timeout=60.0):
        """A Watch iterator of kv_pb2.Event under the prefix, after start_revision (0: from now), that
        reconnects and resumes by itself; see meshkv.watch.Watch."""
        from meshkv.watch import Watch  # the two modules refer to each other
        request = kv_pb2.WatchRequest(prefix=as_bytes(prefix, "prefix"), start_revision=start_revision,
                                      prev_value=prev_value, progress_notify_ms=progress_notify_ms,
                                      filter=filter, keys_only=keys_only)
        return Watch(self, request, resync=resync, reconnect_timeout=reconnect_timeout)

    # --- writes --------------------------------------------------------------

    def set(self, key, value, *, precondition=None, ttl_ms=0, min_replicas=0, timeout=None):
        """Writes a whole value (bytes/str, or a dict for a mapping); returns its kv_pb2.Meta.
        precondition: ABSENT or the kv_pb2.Version the key must be at (FAILED_PRECONDITION otherwise)."""
        request = kv_pb2.SetRequest(key=as_bytes(key), value=as_value(value),
                                    precondition=as_precondition(precondition), ttl_ms=ttl_ms,
                                    min_replicas=min_replicas)
        return self._unary("Set", request, timeout).meta

    def delete(self, key, *, precondition=None, min_replicas=0, timeout=None):
        """Deletes a key (NOT_FOUND when absent); returns the kv_pb2.DeleteResponse (prev, meta)."""
        request = kv_pb2.DeleteRequest(key=as_bytes(key), precondition=as_precondition(precondition),
                                       min_replicas=min_replicas)
        return self._unary("Delete", request, timeout)

    def update(self, items, *, min_replicas=0, timeout=None):
        """Many sets, all or nothing on the node: items is a dict key -> value, or a list of
        (key, value) or (key, value, {"precondition": ..., "ttl_ms": ...}); returns their metas in order."""
        if isinstance(items, dict):
            items = list(items.items())
        requests = []
        for item in items:
            key, value, opts = item[0], item[1], (item[2] if len(item) > 2 else {})
            requests.append(kv_pb2.SetRequest(key=as_bytes(key), value=as_value(value),
                                              precondition=as_precondition(opts.get("precondition")),
                                              ttl_ms=opts.get("ttl_ms", 0)))
        request = kv_pb2.UpdateRequest(items=requests, min_replicas=min_replicas)
        return list(self._unary("Update", request, timeout).metas)

    def apply_delta(self, key, delta=None, *, remove_fields=(), precondition=None, ttl_ms=0, min_replicas=0,
                    timeout=None):
        """Merges fields into a mapping (creating it when absent) and removes remove_fields; returns the
        merged kv_pb2.Entry. FAILED_PRECONDITION when the value is bytes."""
        request = kv_pb2.ApplyDeltaRequest(key=as_bytes(key), delta=as_mapping(delta or {}),
                                           remove_fields=list(remove_fields),
                                           precondition=as_precondition(precondition), ttl_ms=ttl_ms,
                                           min_replicas=min_replicas)
        return self._unary("ApplyDelta", request, timeout).entry

    def pop(self, key, *, min_replicas=0, timeout=None):
        """Reads and deletes a key (NOT_FOUND when absent); returns what was popped. Not retried once sent."""
        request = kv_pb2.PopRequest(key=as_bytes(key), min_replicas=min_replicas)
        return self._unary("Pop", request, timeout, retry_sent=False).entry

    def pop_item(self, *, min_replicas=0, timeout=None):
        """Pops the first key (in key order) this node may delete; NOT_FOUND when none. Not retried once sent."""
        request = kv_pb2.PopItemRequest(min_replicas=min_replicas)
        return self._unary("PopItem", request, timeout, retry_sent=False).entry

    def touch(self, key, ttl_ms, *, min_replicas=0, timeout=None):
        """Extends a live key's expiry to ttl_ms from now (0: never expires); returns its kv_pb2.Meta."""
        request = kv_pb2.TouchRequest(key=as_bytes(key), ttl_ms=ttl_ms, min_replicas=min_replicas)
        return self._unary("Touch", request, timeout).meta

    def delete_prefix(self, prefix, *, limit=0, min_replicas=0, timeout=None):
        """Deletes every live key under the prefix, all or nothing on the node; returns the deleted entries."""
        request = kv_pb2.DeletePrefixRequest(prefix=as_bytes(prefix, "prefix"), limit=limit,
                                             min_replicas=min_replicas)
        return list(self._unary("DeletePrefix", request, timeout).deleted)


class ListResult:
    """A whole List stream: entries in key order, the revision of its snapshot, whether the limit cut it."""

    def __init__(self, entries, revision, more, count):
        self.entries, self.revision, self.more, self.count = entries, revision, more, count

    def __repr__(self):
        return f"ListResult({len(self.entries)} entries, revision={self.revision}, more={self.more})"


def _read_listing(channel, request, timeout):
    entries, revision, more, count = [], 0, False, 0
    for page in kv_pb2_grpc.KeyValueStub(channel).List(request, timeout=timeout):
        entries.extend(page.entries)
        revision, more, count = page.revision, page.more, page.count
    return ListResult(entries, revision, more, count)


def node_id(channel, timeout):
    """The node ID of the server behind a channel (Cluster.Status)."""
    return cluster_pb2_grpc.ClusterStub(channel).Status(cluster_pb2.StatusRequest(), timeout=timeout).node_id


def backoff_delays(first=0.05, cap=2.0):
    """Reconnect delays: doubling from `first` up to `cap`, each with +-50% jitter."""
    delay = first
    while True:
        yield delay * random.uniform(0.5, 1.5)
        delay = min(delay * 2, cap)
