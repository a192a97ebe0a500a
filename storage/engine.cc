#include "storage/engine.h"

namespace meshkv::storage {

absl::StatusOr<std::unique_ptr<Engine>> OpenRocksDb(const std::string& dir,
                                                    const EngineOptions& options);
absl::StatusOr<std::unique_ptr<Engine>> OpenLevelDb(const std::string& dir,
                                                    const EngineOptions& options);

absl::string_view EngineName(EngineKind kind) {
  return kind == EngineKind::kRocksDb ? "rocksdb" : "leveldb";
}

std::optional<EngineKind> ParseEngineKind(absl::string_view name) {
  if (name == "rocksdb") return EngineKind::kRocksDb;
  if (name == "leveldb") return EngineKind::kLevelDb;
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<Engine>> OpenEngine(EngineKind kind, const std::string& dir,
                                                   const EngineOptions& options) {
  return kind == EngineKind::kRocksDb ? OpenRocksDb(dir, options) : OpenLevelDb(dir, options);
}

}  // namespace meshkv::storage
