#include "storage/engine_status.h"

#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace meshkv::storage {

absl::Status EngineStatus(EngineError error, absl::string_view what, absl::string_view message) {
  switch (error) {
    case EngineError::kCorruption:
      return absl::DataLossError(
          absl::StrCat("data directory corrupted (", what, "): ", message,
                       "; restore it from a backup, delete it to re-sync from peers, or start with "
                       "--salvage to keep the records that still verify"));
    case EngineError::kNoSpace:
      return absl::ResourceExhaustedError(
          absl::StrCat("disk full (", what, "): ", message, "; free space and retry"));
    case EngineError::kLocked:
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory in use by another process (", what, "): ", message));
    case EngineError::kInvalid:
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", message));
    case EngineError::kIo:
      return absl::UnavailableError(absl::StrCat("I/O error (", what, "): ", message));
    case EngineError::kOther:
      break;
  }
  return absl::InternalError(absl::StrCat(what, ": ", message));
}

EngineError ClassifyIoMessage(absl::string_view message) {
  if (absl::StrContains(message, "No space left") || absl::StrContains(message, "ENOSPC") ||
      absl::StrContains(message, "Disk quota exceeded")) {
    return EngineError::kNoSpace;
  }
  if (absl::StrContains(message, "lock ") || absl::StrContains(message, "LOCK")) {
    return EngineError::kLocked;
  }
  return EngineError::kIo;
}

void CorruptionNote::Offer(absl::string_view line) {
  if (!absl::StrContains(absl::AsciiStrToLower(line), "corruption")) return;
  absl::MutexLock lock(&mu_);
  if (first_.empty()) first_ = std::string(absl::StripAsciiWhitespace(line));
}

std::string CorruptionNote::Get() const {
  absl::MutexLock lock(&mu_);
  return first_;
}

}  // namespace meshkv::storage
