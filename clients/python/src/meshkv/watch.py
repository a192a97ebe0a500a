"""A Watch stream that survives disconnects: it resumes from the last revision it received.

Revisions are per node (docs/design.md, "Watch"): revision 42 of one node means nothing to another, and a
node restarted on its data directory numbers past every revision it used before, so its history no longer
reaches back to the old ones. So the iterator resumes by revision only on the same node (checked by node
ID) while that node's history still holds it. Otherwise it cannot know what it missed: it raises
WatchResumeError, or with resync=True lists the prefix again on the node it reached, yields a Resync with
the whole current state, and watches on from the listing's revision (a Kubernetes reflector's re-list).

One Watch is one consumer's iterator: call next() from one thread; close() may come from any thread.
"""

import collections
import threading
import time

import grpc

from meshkv.client import DeadlineExceeded, Error, Unavailable, _read_listing, backoff_delays, node_id
from meshkv.v1 import kv_pb2, kv_pb2_grpc


class WatchResumeError(Error):
    """The watch broke and cannot resume without a gap: list again and watch from the listing's revision
    (or use resync=True). code() is OUT_OF_RANGE, as the server's answer for a revision it cannot serve."""

    status_code = grpc.StatusCode.OUT_OF_RANGE


class Resync:
    """Yielded by a resync=True watch that could not resume: `entries` is the whole state under the
    prefix at `revision` on the node now serving; replace what you hold with it. Events follow from there."""

    def __init__(self, entries, revision, node_id):
        self.entries, self.revision, self.node_id = entries, revision, node_id

    def __repr__(self):
        return f"Resync({len(self.entries)} entries, revision={self.revision}, node={self.node_id})"


class Watch:
    """Iterator of kv_pb2.Event (and, with resync=True, of Resync), in revision order, each once.

        with client.watch("config/", start_revision=listing.revision, progress_notify_ms=5000) as w:
            for event in w:
                ...

    `started` turns true once the server has registered the watch: changes from then on are delivered.
    `revision` is how far this watch has delivered: every change up to it that the watch wants has been
    yielded (it also advances on progress notifications, so an idle watch resumes from a recent revision
    and not from one the history may have dropped). `node_id` is the node those revisions belong to.
    When the stream breaks (UNAVAILABLE: the node stopped, the connection dropped; RESOURCE_EXHAUSTED: the
    node cut the stream off for falling behind) the watch reconnects with backoff, the same endpoint first,
    for up to reconnect_timeout seconds, then raises the last error; the first connection gets the same time.
    """

    def __init__(self, client, request, *, resync=False, reconnect_timeout=60.0):
        self._client, self._request = client, request
        self._resync, self._reconnect_timeout = resync, reconnect_timeout
        self.revision = request.start_revision  # delivered through
        self.node_id = None  # the node serving the watch (and numbering its revisions)
        self.reconnects = 0  # streams opened after the first
        self._received = request.start_revision  # what the next stream starts after
        self.started = False  # the server has registered a stream (its created response) at least once
        self._pending = collections.deque()
        self._pending_revision = 0  # the response revision of the events in _pending
        self._index = None  # the endpoint serving the stream
        self._broken_since = None  # monotonic time the current outage began
        self._last_error = None
        self._must_relist = False  # the node cannot resume our revision: the next open lists again
        self._mu = threading.Lock()
        self._call = None  # guarded by _mu (close() may come from another thread), as is _closed
        self._closed = False

    def __iter__(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Ends the watch; a next() blocked on it, or any later one, raises StopIteration."""
        with self._mu:
            self._closed = True
            call, self._call = self._call, None
        if call is not None:
            call.cancel()

    def __next__(self):
        while True:
            if self._pending:
                event = self._pending.popleft()
                self.revision = max(self.revision, event.entry.meta.revision)
                if not self._pending:
                    self.revision = max(self.revision, self._pending_revision)
                return event
            with self._mu:
                if self._closed:
                    raise StopIteration
                call = self._call
            if call is None:
                resync = self._open()
                if resync is not None:
                    return resync
                continue
            try:
                resp = next(call)
            except StopIteration:
                self._broke(call, "the server ended the stream")
                continue
            except grpc.RpcError as e:
                with self._mu:
                    if self._closed:
                        raise StopIteration from None
                if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
                                grpc.StatusCode.CANCELLED):
                    # Stopped, disconnected, cut off for falling behind, or cancelled by a node shutting down
                    # (not by us: close() was checked above): resume from what was received (the node says
                    # OUT_OF_RANGE below if its history no longer reaches back).
                    self._broke(call, f"{e.code().name}: {e.details()}")
                    continue
                if e.code() == grpc.StatusCode.OUT_OF_RANGE and self.started:
                    # A resumed stream whose revision this node no longer serves (restarted, or its history
                    # moved on): the gap cannot be replayed.
                    self._drop(call)
                    if not self._resync:
                        raise WatchResumeError(f"cannot resume after revision {self._received} on "
                                               f"{self.node_id}: {e.details()}") from e
                    self._must_relist = True
                    continue
                raise
            # _pending is empty here: events are handed out before the stream is read again.
            self._broken_since = None
            if resp.created:
                self.started = True
                self._received = resp.revision
                self.revision = max(self.revision, resp.revision)
            elif resp.events:
                self._pending.extend(resp.events)
                self._pending_revision = resp.revision
                self._received = max(self._received, resp.revision, resp.events[-1].entry.meta.revision)
            else:  # a progress notification: every wanted change up to resp.revision has been delivered
                self._received = max(self._received, resp.revision)
                self.revision = max(self.revision, resp.revision)

    def _drop(self, call):
        with self._mu:
            if self._call is call:
                self._call = None

    def _broke(self, call, why):
        self._drop(call)
        call.cancel()
        self._last_error = why
        if self._broken_since is None:
            self._broken_since = time.monotonic()

    def _open(self):
        """Opens a stream, resuming after _received on the same node; returns a Resync when it had to list."""
        if self._broken_since is None:
            self._broken_since = time.monotonic()
        deadline = self._broken_since + self._reconnect_timeout
        delays = backoff_delays()
        while True:
            try:
                return self._open_once(deadline)
            except (Unavailable, DeadlineExceeded) as e:
                self._last_error = e.details()
            delay = next(delays)
            if time.monotonic() + delay > deadline:
                raise Unavailable(f"watch: could not reconnect within {self._reconnect_timeout}s: "
                                  f"{self._last_error}")
            time.sleep(delay)

    def _open_once(self, deadline):
        client = self._client
        attempts = client._connect(deadline, start=self._index)
        index, channel = next(attempts)
        while True:
            try:
                node = node_id(channel, client.timeout)
                if self._must_relist:
                    return self._relist(index, channel, node)
                if self.started and node != self.node_id:
                    if not self._resync:
                        raise WatchResumeError(
                            f"the watch broke on node {self.node_id} and the endpoint reached now is node "
                            f"{node}; revisions are per node, so list again there and watch from the listing")
                    return self._relist(index, channel, node)
                self._start(index, channel, node, self._received)
                return None
            except grpc.RpcError as e:
                # CANCELLED here comes from a node shutting down (the watch is not open yet to be closed).
                if isinstance(e, Error) or e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                    raise
                index, channel = attempts.send(f"UNAVAILABLE: {e.details()}")

    def _relist(self, index, channel, node):
        request = kv_pb2.ListRequest(prefix=self._request.prefix, keys_only=self._request.keys_only)
        listing = _read_listing(channel, request, self._client.timeout)
        self._pending.clear()
        self._received = self.revision = listing.revision
        self._must_relist = False
        self._start(index, channel, node, listing.revision)
        return Resync(listing.entries, listing.revision, node)

    def _start(self, index, channel, node, after):
        request = kv_pb2.WatchRequest()
        request.CopyFrom(self._request)
        request.start_revision = after
        call = kv_pb2_grpc.KeyValueStub(channel).Watch(request)
        with self._mu:
            if self._closed:
                call.cancel()
                return
            self._call = call
        if self.node_id is not None:
            self.reconnects += 1
        self._index, self.node_id = index, node
        self._client._served_by(index)
