// Engine: the narrow seam between DataDir and an embedded key-value engine
// (RocksDB or LevelDB), so that DataDir's rules (identity, group commit,
// ceilings, error codes) are written once and the benchmark can put the two
// engines side by side behind the same code.
//
// An engine is an ordered map of byte strings with a write-ahead log:
// `Write` appends a batch to the log (and the memtable) without syncing;
// `SyncLog` makes every batch written before it durable. Every error comes
// back as an absl::Status with the code DataDir promises (DATA_LOSS for a
// checksum mismatch, RESOURCE_EXHAUSTED for a full disk, UNAVAILABLE for
// other I/O errors, FAILED_PRECONDITION for a directory locked by another
// process).
//
// Thread-safe: Write, SyncLog, Get and Scan may be called concurrently (both
// engines are); Open and the destructor may not race anything.
#ifndef MESHKV_STORAGE_ENGINE_H_
#define MESHKV_STORAGE_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace meshkv::storage {

enum class EngineKind { kRocksDb, kLevelDb };
absl::string_view EngineName(EngineKind kind);  // "rocksdb", "leveldb"
std::optional<EngineKind> ParseEngineKind(absl::string_view name);

// One write: a put, or a delete when `value` is empty.
struct EngineOp {
  std::string key;
  std::optional<std::string> value;
};

struct EngineOptions {
  // Open a directory whose log has a corrupted record in its middle, or
  // whose tables fail their checksums, keeping what verifies: a log record
  // that fails drops the rest of its 32 KiB block, a table that fails is
  // moved to lost/ (RepairDB for RocksDB; see leveldb_engine.cc for LevelDB).
  // Without it such a directory is DATA_LOSS; a torn tail (an incomplete
  // last record) is dropped either way.
  bool salvage = false;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Appends `ops` as one atomic batch to the log, unsynced.
  virtual absl::Status Write(const std::vector<EngineOp>& ops) = 0;
  // Makes every batch written before the call durable (one fsync of the log).
  virtual absl::Status SyncLog() = 0;
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) = 0;
  // Calls `fn(key, value)` for every key starting with `prefix`, in key
  // order, with checksums verified; stops at the first error `fn` returns.
  virtual absl::Status Scan(
      absl::string_view prefix,
      const std::function<absl::Status(absl::string_view, absl::string_view)>& fn) = 0;
  // After a write failed (a full disk), clears the engine's error state if
  // the cause is gone; OK when the engine accepts writes again.
  virtual absl::Status Resume() = 0;
};

// Opens (creating when missing) the engine's files in directory `dir`.
absl::StatusOr<std::unique_ptr<Engine>> OpenEngine(EngineKind kind, const std::string& dir,
                                                   const EngineOptions& options);

}  // namespace meshkv::storage

#endif  // MESHKV_STORAGE_ENGINE_H_
