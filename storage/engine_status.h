// Engine errors as absl::Status codes: one mapping for both engines, so that
// DataDir's callers see the same code for the same cause.
#ifndef MESHKV_STORAGE_ENGINE_STATUS_H_
#define MESHKV_STORAGE_ENGINE_STATUS_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace meshkv::storage {

enum class EngineError { kCorruption, kNoSpace, kIo, kLocked, kInvalid, kOther };

// `what` names the operation ("write", "sync", "open /path"); `message` is
// the engine's own text, kept for the operator.
absl::Status EngineStatus(EngineError error, absl::string_view what, absl::string_view message);

// Classifies an I/O error from its text (LevelDB has no sub-codes; RocksDB
// reports some errno values only in the text).
EngineError ClassifyIoMessage(absl::string_view message);

// The first corruption an engine's info log reports. Both engines name the
// damaged file there ("/d/000004.log: dropping 29468 bytes; Corruption:
// checksum mismatch") but not in the status Open returns, so the engine's
// logger offers every line here and Open puts the first one in its message.
// Thread-safe (engines log from background threads).
class CorruptionNote {
 public:
  // Keeps `line` if it reports a corruption and none was kept before.
  void Offer(absl::string_view line);
  // The kept line, or "" when none.
  std::string Get() const;

 private:
  mutable absl::Mutex mu_;
  std::string first_ ABSL_GUARDED_BY(mu_);
};

}  // namespace meshkv::storage

#endif  // MESHKV_STORAGE_ENGINE_STATUS_H_
