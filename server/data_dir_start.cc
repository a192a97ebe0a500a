#include "server/data_dir_start.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "peer/core/seq_tracker.h"

namespace meshkv {
namespace {

storage::DataDirOptions DataDirOptionsFor(const ServerConfig& config) {
  storage::DataDirOptions o;
  o.fsync = config.fsync;
  o.fsync_interval = config.fsync_interval;
  o.salvage = config.salvage;
  return o;
}

std::string FormatMs(int64_t ms) {
  return absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::unique_ptr<storage::DataDir>> OpenDataDir(const ServerConfig& config,
                                                              const std::string& node_id,
                                                              int64_t now_ms) {
  const storage::Identity identity{config.cluster, node_id, config.leasing};
  const storage::DataDirOptions options = DataDirOptionsFor(config);
  absl::StatusOr<std::unique_ptr<storage::DataDir>> dir =
      storage::DataDir::Open(config.data_dir, identity, options);
  if (!dir.ok()) return dir.status();
  const std::optional<int64_t> in_sync = (*dir)->last_in_sync_ms();
  const int64_t retention_ms = absl::ToInt64Milliseconds(config.tombstone_retention);
  if (!in_sync.has_value() || now_ms - *in_sync <= retention_ms) return dir;

  const std::string age = absl::FormatDuration(absl::Milliseconds(now_ms - *in_sync));
  if (config.join.empty()) {
    LogWarning(
        "data directory is older than --tombstone-retention; keeping it, as there is no "
        "--join to sync from: keys deleted elsewhere since may come back",
        {{"last_in_sync", FormatMs(*in_sync)}, {"age", age}});
    return dir;
  }
  dir->reset();  // close it before moving it
  const std::string aside = absl::StrCat(config.data_dir, ".stale-", now_ms);
  if (std::rename(config.data_dir.c_str(), aside.c_str()) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", config.data_dir, " was last in sync ", age,
        " ago, longer than --tombstone-retention, and cannot be moved aside to ", aside,
        ": move or delete it, or raise --tombstone-retention if no key was deleted meanwhile"));
  }
  LogWarning(
      "data directory is older than --tombstone-retention: set aside, starting empty and "
      "syncing from peers",
      {{"last_in_sync", FormatMs(*in_sync)}, {"age", age}, {"set_aside", aside}});
  return storage::DataDir::Open(config.data_dir, identity, options);
}

int64_t IncarnationMs(int64_t now_ms, uint64_t origin_seq_base) {
  constexpr uint64_t kPerMs = uint64_t{1} << peer::SeqTracker::kIncarnationShift;
  const auto reserved_ms = static_cast<int64_t>((origin_seq_base + kPerMs - 1) / kPerMs);
  return std::max(now_ms, reserved_ms);
}

absl::Status LoadDataDir(storage::DataDir* dir, Node* node) {
  std::vector<std::string> unneeded;
  MESHKV_RETURN_IF_ERROR(dir->Load([&](const meshkv::mesh::v1::Record& r) -> absl::Status {
    absl::StatusOr<bool> changed = node->Restore(r);
    if (!changed.ok()) {
      return absl::DataLossError(absl::StrCat("data directory ", dir->path(), ": stored record ",
                                              "cannot be restored: ", changed.status().message()));
    }
    if (!*changed) unneeded.push_back(r.key());
    return absl::OkStatus();
  }));
  if (!unneeded.empty()) {
    absl::StatusOr<storage::DataDir::Token> t = dir->Forget(unneeded);
    if (!t.ok()) return t.status();
  }
  MESHKV_RETURN_IF_ERROR(dir->ReserveRevisions(node->store().revision()));
  const storage::DataDirStats s = dir->Stats();
  LogInfo("data directory loaded",
          {{"path", dir->path()},
           {"records", absl::StrCat(s.records_loaded)},
           {"forgotten", absl::StrCat(unneeded.size())},
           {"revision", absl::StrCat(node->store().revision())},
           {"open_ms", absl::StrCat(static_cast<int64_t>(s.open_seconds * 1000))},
           {"load_ms", absl::StrCat(static_cast<int64_t>(s.load_seconds * 1000))},
           {"incarnation", absl::StrCat(dir->incarnation())}});
  return absl::OkStatus();
}

}  // namespace meshkv
