// Engine errors as absl::Status codes: one mapping for both engines, so that
// DataDir's callers see the same code for the same cause.
#ifndef MESHKV_STORAGE_ENGINE_STATUS_H_
#define MESHKV_STORAGE_ENGINE_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace meshkv::storage {

enum class EngineError { kCorruption, kNoSpace, kIo, kLocked, kInvalid, kOther };

// `what` names the operation ("write", "sync", "open /path"); `message` is
// the engine's own text, kept for the operator.
absl::Status EngineStatus(EngineError error, absl::string_view what, absl::string_view message);

// Classifies an I/O error from its text (LevelDB has no sub-codes; RocksDB
// reports some errno values only in the text).
EngineError ClassifyIoMessage(absl::string_view message);

}  // namespace meshkv::storage

#endif  // MESHKV_STORAGE_ENGINE_STATUS_H_
