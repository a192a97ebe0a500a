// LevelDB behind storage::Engine.
//
// LevelDB has no SyncWAL: SyncLog writes an empty batch with sync=true, which
// goes through the same writer queue, so it syncs the log after every batch
// written before it (and LevelDB groups concurrent syncing writers into one
// fsync). Recovery drops a torn tail; paranoid_checks turns any other
// corruption into an error.
//
// Salvage opens with paranoid_checks off: recovery still verifies every log
// record's checksum and drops what fails (the rest of its 32 KiB block),
// then writes what it kept to a table and starts a new log, so later opens
// are strict again. Only if that open fails too (a damaged MANIFEST) does it
// run leveldb::RepairDB, which LevelDB 1.23 reads logs with checksums off
// (repair.cc says otherwise): a flipped byte in a log would come back as a
// wrong value, so it is the last resort, not the first.
//
// LevelDB's info log goes to meshkv's log (debug level; lines that report a
// corruption as warnings), not to a LOG file in the data directory.
#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "leveldb/options.h"
#include "leveldb/write_batch.h"
#include "storage/engine.h"
#include "storage/engine_status.h"

namespace meshkv::storage {
namespace {

absl::Status FromLevel(const leveldb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string text = s.ToString();
  if (s.IsCorruption()) return EngineStatus(EngineError::kCorruption, what, text);
  if (s.IsIOError()) return EngineStatus(ClassifyIoMessage(text), what, text);
  if (s.IsInvalidArgument()) return EngineStatus(EngineError::kInvalid, what, text);
  return EngineStatus(EngineError::kOther, what, text);
}

// Forwards LevelDB's info log to meshkv's and offers every line to the
// note, for the message of a failed Open.
class EngineLogger final : public leveldb::Logger {
 public:
  const CorruptionNote& note() const { return note_; }

  void Logv(const char* format, std::va_list ap) override {
    char buf[2048];
    const int n = std::vsnprintf(buf, sizeof(buf), format, ap);
    if (n < 0) return;
    const absl::string_view line(buf, std::min(static_cast<size_t>(n), sizeof(buf) - 1));
    note_.Offer(line);
    const LogLevel level = absl::StrContains(absl::AsciiStrToLower(line), "corruption")
                               ? LogLevel::kWarning
                               : LogLevel::kDebug;
    if (LogEnabled(level)) Log(level, "leveldb", {{"detail", line}});
  }

 private:
  CorruptionNote note_;
};

std::string WithNote(absl::string_view what, const EngineLogger& logger) {
  const std::string note = logger.note().Get();
  if (note.empty()) return std::string(what);
  return absl::StrCat(what, "; the engine reported \"", note, "\"");
}

class LevelDbEngine final : public Engine {
 public:
  // `options.info_log` is `logger`.
  LevelDbEngine(std::unique_ptr<EngineLogger> logger, std::unique_ptr<leveldb::DB> db,
                std::string dir, leveldb::Options options)
      : logger_(std::move(logger)), db_(std::move(db)), dir_(std::move(dir)), options_(options) {}

  absl::Status Write(const std::vector<EngineOp>& ops) override {
    leveldb::WriteBatch batch;
    for (const EngineOp& op : ops) {
      if (op.value.has_value()) {
        batch.Put(op.key, *op.value);
      } else {
        batch.Delete(op.key);
      }
    }
    return FromLevel(db_->Write(leveldb::WriteOptions(), &batch), "write");
  }

  absl::Status SyncLog() override {
    leveldb::WriteOptions wo;
    wo.sync = true;
    leveldb::WriteBatch empty;
    return FromLevel(db_->Write(wo, &empty), "sync");
  }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    std::string value;
    leveldb::Status s = db_->Get(ro, leveldb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromLevel(s, absl::StrCat("read ", dir_));
    return std::optional<std::string>(std::move(value));
  }

  absl::Status Scan(absl::string_view prefix,
                    const std::function<absl::Status(absl::string_view, absl::string_view)>& fn)
      override {
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
    const leveldb::Slice p(prefix.data(), prefix.size());
    for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
      absl::Status s = fn(absl::string_view(it->key().data(), it->key().size()),
                          absl::string_view(it->value().data(), it->value().size()));
      if (!s.ok()) return s;
    }
    return FromLevel(it->status(), absl::StrCat("scan ", dir_));
  }

  // LevelDB keeps a background error until the DB is reopened.
  absl::Status Resume() override {
    db_.reset();
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(options_, dir_, &raw);
    if (!s.ok()) return FromLevel(s, WithNote(absl::StrCat("reopen ", dir_), *logger_));
    db_.reset(raw);
    return absl::OkStatus();
  }

 private:
  const std::unique_ptr<EngineLogger> logger_;  // outlives db_, which logs to it
  // Replaced only by Resume, which DataDir calls with no other call in flight.
  std::unique_ptr<leveldb::DB> db_;
  const std::string dir_;
  const leveldb::Options options_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> OpenLevelDb(const std::string& dir,
                                                    const EngineOptions& options) {
  auto logger = std::make_unique<EngineLogger>();
  leveldb::Options lo;
  lo.info_log = logger.get();
  lo.create_if_missing = true;
  lo.paranoid_checks = true;
  lo.write_buffer_size = 16 << 20;
  lo.max_file_size = 8 << 20;
  leveldb::DB* raw = nullptr;
  leveldb::Status s;
  if (options.salvage) {
    leveldb::Options lenient = lo;
    lenient.paranoid_checks = false;
    s = leveldb::DB::Open(lenient, dir, &raw);
    if (s.IsCorruption()) {
      leveldb::Status repaired = leveldb::RepairDB(dir, lo);
      if (!repaired.ok()) {
        return FromLevel(repaired, WithNote(absl::StrCat("repair ", dir), *logger));
      }
      s = leveldb::DB::Open(lo, dir, &raw);
    }
  } else {
    s = leveldb::DB::Open(lo, dir, &raw);
  }
  if (!s.ok()) return FromLevel(s, WithNote(absl::StrCat("open ", dir), *logger));
  return std::unique_ptr<Engine>(
      new LevelDbEngine(std::move(logger), std::unique_ptr<leveldb::DB>(raw), dir, lo));
}

}  // namespace meshkv::storage
