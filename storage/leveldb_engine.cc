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
// wrong value, so it is the last resort, not the first. A table file that
// fails its checksums is moved to lost/ (as RocksDB's repair does) and
// RepairDB rebuilds the MANIFEST from the tables that verify; the recovery
// open has by then emptied the logs, so RepairDB's unchecked log reading has
// nothing to read.
//
// LevelDB's errors do not name the file; on a corruption found by a read or
// a scan, every table is verified to name the damaged one.
//
// LevelDB's info log goes to meshkv's log (debug level; lines that report a
// corruption as warnings), not to a LOG file in the data directory.
#include <sys/statvfs.h>

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
#include "leveldb/iterator.h"
#include "leveldb/table.h"
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
    // The engine's own format string, as its default logger uses it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    const int n = std::vsnprintf(buf, sizeof(buf), format, ap);
#pragma GCC diagnostic pop
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

// The first table file of `dir` (in name order) that fails to open or has a
// block that fails its checksum; "" when every table verifies.
std::string FindDamagedTable(const std::string& dir) {
  leveldb::Env* env = leveldb::Env::Default();
  std::vector<std::string> names;
  if (!env->GetChildren(dir, &names).ok()) return "";
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (!absl::EndsWith(name, ".ldb") && !absl::EndsWith(name, ".sst")) continue;
    const std::string path = absl::StrCat(dir, "/", name);
    uint64_t size = 0;
    leveldb::RandomAccessFile* raw_file = nullptr;
    if (!env->GetFileSize(path, &size).ok() || !env->NewRandomAccessFile(path, &raw_file).ok()) {
      return path;
    }
    std::unique_ptr<leveldb::RandomAccessFile> file(raw_file);
    leveldb::Options options;
    options.paranoid_checks = true;
    leveldb::Table* raw_table = nullptr;
    if (!leveldb::Table::Open(options, file.get(), size, &raw_table).ok()) return path;
    std::unique_ptr<leveldb::Table> table(raw_table);
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    std::unique_ptr<leveldb::Iterator> it(table->NewIterator(ro));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
    }
    if (!it->status().ok()) return path;
  }
  return "";
}

// `what`, and when `s` is a corruption, the table file that holds it.
std::string WithDamagedTable(const leveldb::Status& s, absl::string_view what,
                             const std::string& dir) {
  if (!s.IsCorruption()) return std::string(what);
  const std::string damaged = FindDamagedTable(dir);
  if (damaged.empty()) return std::string(what);
  return absl::StrCat(what, "; damaged file ", damaged);
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
    if (db_ == nullptr) return closed_;
    return FromLevel(db_->Write(leveldb::WriteOptions(), &batch), "write");
  }

  absl::Status SyncLog() override {
    leveldb::WriteOptions wo;
    wo.sync = true;
    leveldb::WriteBatch empty;
    if (db_ == nullptr) return closed_;
    return FromLevel(db_->Write(wo, &empty), "sync");
  }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    std::string value;
    if (db_ == nullptr) return closed_;
    leveldb::Status s = db_->Get(ro, leveldb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromLevel(s, WithDamagedTable(s, absl::StrCat("read ", dir_), dir_));
    return std::optional<std::string>(std::move(value));
  }

  absl::Status Scan(absl::string_view prefix,
                    const std::function<absl::Status(absl::string_view, absl::string_view)>& fn)
      override {
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    if (db_ == nullptr) return closed_;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
    const leveldb::Slice p(prefix.data(), prefix.size());
    for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
      absl::Status s = fn(absl::string_view(it->key().data(), it->key().size()),
                          absl::string_view(it->value().data(), it->value().size()));
      if (!s.ok()) return s;
    }
    const leveldb::Status s = it->status();
    return FromLevel(s, WithDamagedTable(s, absl::StrCat("scan ", dir_), dir_));
  }

  // LevelDB keeps a background error until the DB is reopened, and a write
  // that failed half-way leaves a partial record in the log, which only a
  // reopen (recovery drops it as a torn tail) keeps out of the log's middle.
  // Reopening writes the log to a (compressed) table, so it is not tried
  // with less than 1 MiB free: the engine stays open, reads work. A reopen
  // that fails anyway (a log that does not fit) leaves the engine closed:
  // every call returns that failure until a Resume succeeds.
  absl::Status Resume() override {
    if (db_ != nullptr) {
      const uint64_t need = 1 << 20;
      struct statvfs vfs;
      if (::statvfs(dir_.c_str(), &vfs) == 0) {
        const uint64_t free = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
        if (free < need) {
          return EngineStatus(EngineError::kNoSpace, absl::StrCat("resume ", dir_),
                              absl::StrCat(free, " bytes free, reopening needs ", need));
        }
      }
    }
    db_.reset();
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(options_, dir_, &raw);
    if (!s.ok()) {
      closed_ = FromLevel(s, WithNote(absl::StrCat("reopen ", dir_), *logger_));
      return closed_;
    }
    db_.reset(raw);
    return absl::OkStatus();
  }

 private:
  const std::unique_ptr<EngineLogger> logger_;  // outlives db_, which logs to it
  // Replaced only by Resume, which DataDir calls with no other call in flight;
  // null after a failed reopen, and then closed_ says why.
  std::unique_ptr<leveldb::DB> db_;
  absl::Status closed_;
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
    bool repair = s.IsCorruption();
    if (s.ok()) {
      // Recovered: the logs are now in tables. Set aside the tables that fail.
      delete raw;
      raw = nullptr;
      for (std::string damaged = FindDamagedTable(dir); !damaged.empty();
           damaged = FindDamagedTable(dir)) {
        const std::string lost = absl::StrCat(dir, "/lost");
        leveldb::Env::Default()->CreateDir(lost);  // may exist
        const std::string to = absl::StrCat(lost, "/", damaged.substr(damaged.rfind('/') + 1));
        leveldb::Status moved = leveldb::Env::Default()->RenameFile(damaged, to);
        if (!moved.ok()) return FromLevel(moved, absl::StrCat("move aside ", damaged));
        LogWarning("salvage: a damaged table file set aside",
                   {{"file", damaged}, {"moved_to", to}});
        repair = true;
      }
    }
    if (repair) {
      leveldb::Status repaired = leveldb::RepairDB(dir, lo);
      if (!repaired.ok()) {
        return FromLevel(repaired, WithNote(absl::StrCat("repair ", dir), *logger));
      }
    }
    if (s.ok() || repair) s = leveldb::DB::Open(lo, dir, &raw);
  } else {
    s = leveldb::DB::Open(lo, dir, &raw);
  }
  if (!s.ok()) return FromLevel(s, WithNote(absl::StrCat("open ", dir), *logger));
  return std::unique_ptr<Engine>(
      new LevelDbEngine(std::move(logger), std::unique_ptr<leveldb::DB>(raw), dir, lo));
}

}  // namespace meshkv::storage
