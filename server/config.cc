#include "server/config.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "store/record.h"

namespace meshkv {

absl::StatusOr<uint64_t> ParseDataQuota(absl::string_view spec, uint64_t memory_limit_bytes) {
  const std::string given(spec);
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("--max-data-bytes \"", given, "\" ", why));
  };
  uint64_t n = 0;
  if (absl::ConsumeSuffix(&spec, "%")) {
    if (!absl::SimpleAtoi(spec, &n) || n == 0 || n > 100) {
      return bad("must be a percentage from 1% to 100%, or a number of bytes");
    }
    if (memory_limit_bytes == 0) {
      return bad("is a share of the memory limit, which needs --memory-limit-bytes");
    }
    return memory_limit_bytes / 100 * n;
  }
  if (!absl::SimpleAtoi(spec, &n)) return bad("must be a number of bytes (0: no quota) or N%");
  return n;
}

absl::Status ValidateConfig(const ServerConfig& c) {
  auto bad = [](absl::string_view flag, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", why));
  };
  if (c.max_key_bytes == 0 || c.max_key_bytes > Record::kMaxKeyBytes) {
    return bad("max-key-bytes", absl::StrCat("must be between 1 and ", Record::kMaxKeyBytes));
  }
  // A request carries a few values; gRPC's message limit is an int.
  if (c.max_value_bytes == 0 || c.max_value_bytes > (64u << 20)) {
    return bad("max-value-bytes", "must be between 1 and 64 MiB");
  }
  if (c.lease_duration <= absl::ZeroDuration() || c.lease_duration > absl::Hours(24 * 365)) {
    return bad("lease-duration", "must be positive and at most a year");
  }
  if (c.tombstone_retention <= absl::ZeroDuration() ||
      c.tombstone_retention > absl::Hours(24 * 365)) {
    return bad("tombstone-retention", "must be positive and at most a year");
  }
  if (c.watch_history == 0) return bad("watch-history", "must be at least 1");
  if (c.watch_max_lag == 0) return bad("watch-max-lag", "must be at least 1");
  if (c.max_watch_streams == 0) return bad("max-watch-streams", "must be at least 1");
  if (c.max_health_watches == 0) return bad("max-health-watches", "must be at least 1");
  if (c.max_delete_prefix_keys == 0 || c.max_delete_prefix_keys > 1000000) {
    return bad("max-delete-prefix-keys", "must be between 1 and 1000000");
  }
  if (c.max_concurrent_streams == 0 || c.max_concurrent_streams > INT32_MAX) {
    return bad("max-concurrent-streams", "must be between 1 and 2147483647");
  }
  if (c.grpc_handshake_timeout < absl::Milliseconds(100) ||
      c.grpc_handshake_timeout > absl::Minutes(10)) {
    return bad("grpc-handshake-timeout", "must be between 100ms and 10m");
  }
  if (c.fsync_interval <= absl::ZeroDuration() || c.fsync_interval > absl::Minutes(10)) {
    return bad("fsync-interval", "must be positive and at most 10m");
  }
  return absl::OkStatus();
}

}  // namespace meshkv

namespace meshkv {

StoreOptions StoreOptionsFor(const ServerConfig& config, const std::string& node_id) {
  StoreOptions o;
  o.node_id = node_id;
  o.leasing = config.leasing;
  o.lease_duration = config.lease_duration;
  o.tombstone_retention = config.tombstone_retention;
  o.max_key_bytes = config.max_key_bytes;
  o.max_value_bytes = config.max_value_bytes;
  o.max_data_bytes = config.max_data_bytes;
  o.history_max_events = config.watch_history;
  return o;
}

KeyValueServiceOptions KeyValueServiceOptionsFor(const ServerConfig& config) {
  KeyValueServiceOptions o;
  o.watch.max_lag = config.watch_max_lag;
  o.max_watch_streams = config.max_watch_streams;
  o.max_delete_prefix_keys = config.max_delete_prefix_keys;
  return o;
}

peer::MeshOptions MeshOptionsFor(const ServerConfig& config, const std::string& node_id,
                                 const std::string& advertise_addr, int64_t incarnation_ms,
                                 uint64_t rng_seed) {
  peer::MeshOptions o;
  o.node_id = node_id;
  o.advertise_addr = advertise_addr;
  o.cluster = config.cluster;
  o.leasing = config.leasing;
  o.seeds = config.join;
  o.incarnation_ms = incarnation_ms;
  o.initial_sync_timeout_ms = absl::ToInt64Milliseconds(config.initial_sync_timeout);
  o.rng_seed = rng_seed;
  // Write concern: with a data directory synced on every write, a replica
  // holds a write once it is on disk, not merely applied.
  o.acks_when_durable = !config.data_dir.empty() && config.fsync == storage::FsyncMode::kAlways;
  // A whole record must fit in a frame, with room to spare.
  o.max_frame_bytes =
      std::max<size_t>(o.max_frame_bytes, 4 * (config.max_value_bytes + config.max_key_bytes));
  return o;
}

}  // namespace meshkv
