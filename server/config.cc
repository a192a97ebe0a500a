#include "server/config.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "store/record.h"

namespace meshkv {

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
  return absl::OkStatus();
}

}  // namespace meshkv
