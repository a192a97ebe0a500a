// RocksDB behind storage::Engine.
//
// The WAL is written on every Write (manual_wal_flush off: a batch reaches
// the OS before Write returns, so a killed process loses nothing) and synced
// only by SyncLog (SyncWAL), which is how DataDir shares one fsync among
// concurrent waiters. Recovery tolerates a torn tail and refuses corruption
// elsewhere (kTolerateCorruptedTailRecords); salvage runs RepairDB and
// recovers to the last consistent point (kPointInTimeRecovery).
//
// RocksDB's own info log goes to meshkv's log (warnings and errors), not to a
// LOG file in the data directory: on a full disk that file fails too, and
// Debian's librocksdb (built with assertions) aborts on the next line written
// to a file that has failed once.
//
// A full disk: RocksDB's own recovery would wait for a free-space reserve of
// a whole memtable (64 MiB) before resuming, polling every 5 s, and refuse
// Resume as busy meanwhile; it is turned off for that error, so DataDir's
// next write calls Resume (a flush to a new WAL) as soon as there is room for
// what the memtable holds. Other errors keep RocksDB's own recovery.
#include <cstdarg>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/log.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/listener.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "storage/engine.h"
#include "storage/engine_status.h"

namespace meshkv::storage {
namespace {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string text = s.ToString();
  if (s.IsCorruption()) return EngineStatus(EngineError::kCorruption, what, text);
  if (s.IsNoSpace()) return EngineStatus(EngineError::kNoSpace, what, text);
  if (s.IsIOError()) return EngineStatus(ClassifyIoMessage(text), what, text);
  if (s.IsInvalidArgument()) return EngineStatus(EngineError::kInvalid, what, text);
  // A write refused because an earlier one failed (the DB is read-only until
  // Resume) carries the original cause in its text.
  const EngineError e = ClassifyIoMessage(text);
  return EngineStatus(e == EngineError::kIo ? EngineError::kOther : e, what, text);
}

// Forwards RocksDB's info log to meshkv's: WARN and above as warnings and
// errors, the rest (and the options dump of every Open) at debug level.
// Offers warnings and errors to `note`, for the message of a failed Open.
class EngineLogger final : public rocksdb::Logger {
 public:
  EngineLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::DEBUG_LEVEL) {}
  const CorruptionNote& note() const { return note_; }

  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    LogLevel ours = LogLevel::kDebug;
    if (level == rocksdb::InfoLogLevel::WARN_LEVEL) ours = LogLevel::kWarning;
    if (level == rocksdb::InfoLogLevel::ERROR_LEVEL ||
        level == rocksdb::InfoLogLevel::FATAL_LEVEL) {
      ours = LogLevel::kError;
    }
    if (ours == LogLevel::kDebug && !LogEnabled(ours)) return;
    char buf[2048];
    // The engine's own format string, as its default logger uses it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    const int n = std::vsnprintf(buf, sizeof(buf), format, ap);
#pragma GCC diagnostic pop
    if (n < 0) return;
    const absl::string_view line(buf, std::min(static_cast<size_t>(n), sizeof(buf) - 1));
    if (ours != LogLevel::kDebug) note_.Offer(line);
    if (LogEnabled(ours)) Log(ours, "rocksdb", {{"detail", line}});
  }

 private:
  CorruptionNote note_;
};

// "open /d" or, when the info log named the damaged file, "open /d; the
// engine reported \"/d/000004.log: dropping ...\"".
std::string WithNote(absl::string_view what, const EngineLogger& logger) {
  const std::string note = logger.note().Get();
  if (note.empty()) return std::string(what);
  return absl::StrCat(what, "; the engine reported \"", note, "\"");
}

// Turns off RocksDB's automatic recovery from a full disk: Resume, called by
// DataDir on its next write, does it instead.
class NoAutoRecoveryFromNoSpace final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    if (bg_error.IsNoSpace()) *auto_recovery = false;
  }
};

rocksdb::Options MakeOptions(bool salvage, std::shared_ptr<EngineLogger> logger) {
  rocksdb::Options options;
  options.info_log = std::move(logger);
  options.listeners.push_back(std::make_shared<NoAutoRecoveryFromNoSpace>());
  options.create_if_missing = true;
  options.paranoid_checks = true;
  options.wal_recovery_mode = salvage ? rocksdb::WALRecoveryMode::kPointInTimeRecovery
                                      : rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  // One column family, small records: a 64 MiB memtable, 2 background jobs
  // (the machines meshkv runs on are small). No bloom filter: the only point
  // reads are a few meta keys at Open; records are read by one scan.
  options.write_buffer_size = 64 << 20;
  options.max_background_jobs = 2;
  rocksdb::BlockBasedTableOptions table;
  table.block_size = 16 << 10;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

class RocksDbEngine final : public Engine {
 public:
  RocksDbEngine(std::unique_ptr<rocksdb::DB> db, std::string dir)
      : db_(std::move(db)), dir_(std::move(dir)) {}
  ~RocksDbEngine() override {
    // Closing syncs nothing the caller did not ask for; errors here have no
    // one to go to (the WAL already holds every batch).
    db_->Close().PermitUncheckedError();
  }

  absl::Status Write(const std::vector<EngineOp>& ops) override {
    rocksdb::WriteBatch batch;
    for (const EngineOp& op : ops) {
      if (op.value.has_value()) {
        batch.Put(op.key, *op.value);
      } else {
        batch.Delete(op.key);
      }
    }
    rocksdb::WriteOptions wo;
    wo.sync = false;
    return FromRocks(db_->Write(wo, &batch), "write");
  }

  absl::Status SyncLog() override { return FromRocks(db_->SyncWAL(), "sync"); }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    rocksdb::ReadOptions ro;
    ro.verify_checksums = true;
    std::string value;
    rocksdb::Status s = db_->Get(ro, rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, absl::StrCat("read ", dir_));
    return std::optional<std::string>(std::move(value));
  }

  absl::Status Scan(absl::string_view prefix,
                    const std::function<absl::Status(absl::string_view, absl::string_view)>& fn)
      override {
    rocksdb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    const rocksdb::Slice p(prefix.data(), prefix.size());
    for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
      absl::Status s = fn(absl::string_view(it->key().data(), it->key().size()),
                          absl::string_view(it->value().data(), it->value().size()));
      if (!s.ok()) return s;
    }
    return FromRocks(it->status(), absl::StrCat("scan ", dir_));
  }

  absl::Status Resume() override { return FromRocks(db_->Resume(), "resume"); }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  const std::string dir_;  // for messages
};

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> OpenRocksDb(const std::string& dir,
                                                    const EngineOptions& options) {
  auto logger = std::make_shared<EngineLogger>();
  rocksdb::Options ro = MakeOptions(options.salvage, logger);
  // RocksDB logs a missing directory as an error before creating it.
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (options.salvage) {
    rocksdb::Status repaired = rocksdb::RepairDB(dir, ro);
    if (!repaired.ok()) {
      return FromRocks(repaired, WithNote(absl::StrCat("repair ", dir), *logger));
    }
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(ro, dir, &raw);
  if (!s.ok()) return FromRocks(s, WithNote(absl::StrCat("open ", dir), *logger));
  return std::unique_ptr<Engine>(new RocksDbEngine(std::unique_ptr<rocksdb::DB>(raw), dir));
}

}  // namespace meshkv::storage
