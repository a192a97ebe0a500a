#include "server/store_metrics.h"

#include <vector>

namespace meshkv {

Metrics::Collector StoreCollector(const Store* store) {
  return [store] {
    const StoreStats s = store->Stats();
    std::vector<prometheus::MetricFamily> out;
    auto gauge = [&](const char* name, const char* help, double v) {
      out.push_back(GaugeFamily(name, help));
      AddSample(&out.back(), v);
    };
    gauge("meshkv_store_keys", "Live keys held by this node.", s.keys);
    gauge("meshkv_store_tombstones", "Deleted keys remembered for anti-entropy.", s.tombstones);
    gauge("meshkv_store_bytes", "Bytes of keys and values of live keys.", s.bytes);
    const uint64_t quota = store->options().max_data_bytes;
    gauge("meshkv_store_max_data_bytes", "The data quota (--max-data-bytes); 0: none.", quota);
    gauge("meshkv_store_quota_exceeded",
          "1 when the live keys' bytes are over the data quota (replicated writes took them "
          "there); 0 otherwise.",
          quota != 0 && s.bytes > quota ? 1 : 0);
    gauge("meshkv_store_revision", "This node's revision: changes applied so far.", s.revision);
    gauge("meshkv_watch_history_events", "Changes kept for Watch replay.", s.history_events);
    gauge("meshkv_store_keys_with_ttl", "Live keys with a time to live.", s.keys_with_ttl);
    out.push_back(CounterFamily("meshkv_store_keys_expired_total",
                                "Live keys that expired on this node (each a DELETE event)."));
    AddSample(&out.back(), static_cast<double>(s.keys_expired));

    // Leases, by owner: this node (self) or another node (other).
    auto by_owner = [&](prometheus::MetricFamily f, const auto& values) {
      AddSample(&f, static_cast<double>(values[0]), {{"owner", "self"}});
      AddSample(&f, static_cast<double>(values[1]), {{"owner", "other"}});
      out.push_back(std::move(f));
    };
    by_owner(GaugeFamily("meshkv_leases_active", "Keys under a lease that has not lapsed."),
             s.leases_active);
    by_owner(CounterFamily("meshkv_lease_acquired_total",
                           "Leases taken: a write made its origin the owner of a key."),
             s.leases_acquired);
    by_owner(CounterFamily("meshkv_lease_renewed_total",
                           "Leases extended by another write of their owner."),
             s.leases_renewed);
    by_owner(
        CounterFamily("meshkv_lease_expired_total", "Leases that lapsed without being renewed."),
        s.leases_expired);
    out.push_back(CounterFamily("meshkv_lease_refused_total",
                                "Writes entering at this node refused by another node's lease."));
    AddSample(&out.back(), static_cast<double>(s.lease_refusals));
    out.push_back(CounterFamily("meshkv_store_quota_refused_total",
                                "Local writes refused because they would pass the data quota."));
    AddSample(&out.back(), static_cast<double>(s.quota_refusals));
    out.push_back(
        CounterFamily("meshkv_lease_released_total",
                      "Running leases ended by a lease release (meshkv leases release)."));
    AddSample(&out.back(), static_cast<double>(s.leases_released));
    return out;
  };
}

}  // namespace meshkv
