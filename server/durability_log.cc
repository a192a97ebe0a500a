#include "server/durability_log.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "store/wire_convert.h"

namespace meshkv {

void DurabilityLog::OnCommit(const Commit& c) {
  const uint64_t attempt = attempts_.fetch_add(1) + 1;
  meshkv::mesh::v1::Record state;
  RecordToWire(*c.next, c.origins, &state);
  absl::Status s = dir_->ReserveRevisions(c.revision);
  if (s.ok()) {
    absl::StatusOr<storage::DataDir::Token> token = dir_->Append({state});
    if (token.ok()) {
      appended_.store(*token);
      return;
    }
    s = token.status();
  }
  absl::MutexLock lock(&mu_);
  last_failed_attempt_ = attempt;
  last_failure_ = s;
}

void DurabilityLog::OnTombstonesCollected(const std::vector<std::string>& keys) {
  absl::StatusOr<storage::DataDir::Token> token = dir_->Forget(keys);
  if (token.ok()) {
    appended_.store(*token);
  } else {
    // The tombstones stay on disk and come back at the next start, where
    // they are past the retention and forgotten then.
    LogWarning("data directory: could not forget collected tombstones",
               {{"keys", absl::StrCat(keys.size())}, {"error", token.status().ToString()}});
  }
}

absl::Status DurabilityLog::WaitDurable(uint64_t since) {
  {
    absl::MutexLock lock(&mu_);
    if (last_failed_attempt_ > since) {
      return absl::Status(last_failure_.code(),
                          absl::StrCat("the write is in memory but not on disk (its outcome is "
                                       "unknown; it may still replicate): ",
                                       last_failure_.message()));
    }
  }
  absl::Status s = dir_->WaitDurable(appended_.load());
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("the write is in memory but its fsync failed (its "
                                               "outcome is unknown): ",
                                               s.message()));
  }
  return absl::OkStatus();
}

}  // namespace meshkv
