"""meshkv: a Python client for the meshkv replicated key-value service.

    import meshkv
    with meshkv.Client(["127.0.0.1:50051", "127.0.0.1:50052"], timeout=5) as kv:
        kv.set("greeting", "hello")
        entry = kv.get("greeting")                  # a kv_pb2.Entry, or None
        for event in kv.watch("greet", start_revision=entry.meta.revision):
            print(event.type, event.entry.key)

Client (endpoints with failover, per-call deadlines, TLS), Watch (resumes from its last revision after a
disconnect), ABSENT (the "key is absent" precondition). The generated messages and stubs are in
meshkv.v1 (kv_pb2, kv_pb2_grpc, cluster_pb2, cluster_pb2_grpc), made from proto/ when the package is built.
"""

from meshkv.client import ABSENT, Client, DeadlineExceeded, Error, ListResult, Unavailable
from meshkv.watch import Resync, Watch, WatchResumeError
from meshkv.v1 import kv_pb2

# Event types and watch filters, for `event.type == meshkv.UPDATE` and `watch(filter=meshkv.DELETES)`.
UPDATE, DELETE = kv_pb2.Event.UPDATE, kv_pb2.Event.DELETE
EXPIRED = kv_pb2.Event.EXPIRED
ALL, UPDATES, DELETES = kv_pb2.WatchRequest.ALL, kv_pb2.WatchRequest.UPDATES, kv_pb2.WatchRequest.DELETES

__all__ = ["ABSENT", "ALL", "Client", "DELETE", "DELETES", "DeadlineExceeded", "EXPIRED", "Error", "ListResult", "Resync", "UPDATE",
           "UPDATES", "Unavailable", "Watch", "WatchResumeError", "kv_pb2"]
