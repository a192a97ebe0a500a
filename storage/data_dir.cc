#include "storage/data_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace meshkv::storage {
namespace {

// Key layout in the engine (docs/design.md, "Durability"): one byte of
// namespace, then the name.
constexpr char kRecordPrefix[] = "r";  // r<record key> -> serialized wire::Record
constexpr char kRevisionCeilingKey[] = "mrevision_ceiling";    // decimal
constexpr char kOriginSeqCeilingKey[] = "morigin_seq_ceiling";  // decimal
constexpr char kIncarnationKey[] = "mincarnation";             // decimal
constexpr char kLastInSyncKey[] = "mlast_in_sync_ms";          // decimal

const double kFsyncBoundsSeconds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                      0.01,   0.025,   0.05,   0.1,   0.25,   1.0};

absl::Status ErrnoStatus(int err, absl::string_view what) {
  const std::string text = absl::StrCat(what, ": ", std::strerror(err));
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(absl::StrCat("disk full: ", text));
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(text);
    case ENOTDIR:
    case EEXIST:
      return absl::FailedPreconditionError(text);
    default:
      return absl::UnavailableError(absl::StrCat("I/O error: ", text));
  }
}

absl::Status FsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, absl::StrCat("fsync ", path));
  return absl::OkStatus();
}

// Writes `contents` to `path` so that a crash leaves the old file or the new
// one, never a part: a temporary file, fsync, rename, fsync of the directory.
absl::Status WriteFileAtomically(const std::string& dir, const std::string& name,
                                 const std::string& contents) {
  const std::string path = absl::StrCat(dir, "/", name);
  const std::string tmp = absl::StrCat(path, ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("create ", tmp));
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, absl::StrCat("write ", tmp));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus(err, absl::StrCat("fsync ", tmp));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoStatus(errno, absl::StrCat("rename ", tmp));
  }
  return FsyncPath(dir, O_RDONLY | O_DIRECTORY);
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, absl::StrCat("read ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1 << 20)) break;
  }
  ::close(fd);
  return out;
}

absl::StatusOr<uint64_t> ReadCounter(Engine& engine, absl::string_view key) {
  absl::StatusOr<std::optional<std::string>> v = engine.Get(key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return 0;
  uint64_t n = 0;
  if (!absl::SimpleAtoi(**v, &n)) {
    return absl::DataLossError(
        absl::StrCat("stored counter ", key.substr(1), " is not a number: \"", **v, "\""));
  }
  return n;
}

std::string RecordKey(absl::string_view key) { return absl::StrCat(kRecordPrefix, key); }

bool ValidIdentityValue(const std::string& s) {
  return s.find('\n') == std::string::npos && s.find('\r') == std::string::npos;
}

}  // namespace

absl::string_view FsyncModeName(FsyncMode mode) {
  switch (mode) {
    case FsyncMode::kAlways:
      return "always";
    case FsyncMode::kInterval:
      return "interval";
    case FsyncMode::kNever:
      return "never";
  }
  return "?";
}

std::optional<FsyncMode> ParseFsyncMode(absl::string_view name) {
  if (name == "always") return FsyncMode::kAlways;
  if (name == "interval") return FsyncMode::kInterval;
  if (name == "never") return FsyncMode::kNever;
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<DataDir>> DataDir::Open(const std::string& path,
                                                       const Identity& identity,
                                                       const DataDirOptions& options) {
  const absl::Time start = absl::Now();
  if (path.empty()) return absl::InvalidArgumentError("data directory path is empty");
  if (!ValidIdentityValue(identity.cluster) || !ValidIdentityValue(identity.node_id)) {
    return absl::InvalidArgumentError("cluster name and node ID may not contain line breaks");
  }
  if (options.fsync == FsyncMode::kInterval && options.fsync_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("fsync interval must be positive");
  }
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return ErrnoStatus(ec.value(), absl::StrCat("create ", path));

  const std::string identity_path = absl::StrCat(path, "/", kIdentityFileName);
  bool created = false;
  struct stat st;
  if (::stat(identity_path.c_str(), &st) == 0) {
    absl::StatusOr<std::string> text = ReadSmallFile(identity_path);
    if (!text.ok()) return text.status();
    absl::StatusOr<IdentityFile> have = ParseIdentityFile(*text);
    if (!have.ok()) {
      return absl::DataLossError(absl::StrCat(identity_path, ": ", have.status().message()));
    }
    MESHKV_RETURN_IF_ERROR(CheckIdentity(path, *have, identity, options.engine));
  } else if (errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("stat ", identity_path));
  } else {
    // Only an empty directory (or one with a half-written IDENTITY.tmp from
    // a crash during creation) becomes a data directory.
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      const std::string name = entry.path().filename().string();
      if (name != absl::StrCat(kIdentityFileName, ".tmp")) {
        return absl::FailedPreconditionError(absl::StrCat(
            path, " is not empty and has no ", kIdentityFileName,
            " file, so it is not a meshkv data directory (it holds \"", name,
            "\"): point --data-dir at an empty or new directory"));
      }
    }
    if (ec) return ErrnoStatus(ec.value(), absl::StrCat("list ", path));
    IdentityFile file;
    file.engine = options.engine;
    file.identity = identity;
    MESHKV_RETURN_IF_ERROR(WriteFileAtomically(path, kIdentityFileName, FormatIdentityFile(file)));
    created = true;
  }

  EngineOptions engine_options;
  engine_options.salvage = options.salvage;
  absl::StatusOr<std::unique_ptr<Engine>> engine = OpenEngine(
      options.engine, absl::StrCat(path, "/", EngineName(options.engine)), engine_options);
  if (!engine.ok()) return engine.status();

  std::unique_ptr<DataDir> dir(new DataDir(path, options, std::move(*engine)));
  dir->created_ = created;
  MESHKV_RETURN_IF_ERROR(dir->InitMeta());
  dir->open_seconds_ = absl::ToDoubleSeconds(absl::Now() - start);
  if (options.fsync == FsyncMode::kInterval) {
    dir->interval_thread_ = std::thread([d = dir.get()] { d->IntervalLoop(); });
  }
  return dir;
}

DataDir::DataDir(std::string path, const DataDirOptions& options, std::unique_ptr<Engine> engine)
    : path_(std::move(path)), options_(options), engine_(std::move(engine)) {
  stats_.fsync_bucket_bounds_seconds.assign(std::begin(kFsyncBoundsSeconds),
                                            std::end(kFsyncBoundsSeconds));
  stats_.fsync_bucket_counts.assign(stats_.fsync_bucket_bounds_seconds.size() + 1, 0);
}

DataDir::~DataDir() {
  {
    absl::MutexLock lock(&sync_mu_);
    stopping_ = true;
    sync_done_.SignalAll();
  }
  if (interval_thread_.joinable()) interval_thread_.join();
  if (options_.fsync != FsyncMode::kNever) {
    // Best effort: a clean stop leaves everything synced. An error here has
    // no caller to go to; the records are in the log either way.
    SyncThrough(appended_.load()).IgnoreError();
  }
}

absl::Status DataDir::InitMeta() {
  // Reads under the engine lock only; the other locks are taken after it is
  // released (lock order: ceiling_mu_ -> append_mu_ -> engine_mu_).
  absl::StatusOr<uint64_t> revision = 0, origin_seq = 0, incarnation = 0;
  absl::StatusOr<std::optional<std::string>> in_sync;
  {
    absl::ReaderMutexLock lock(&engine_mu_);
    revision = ReadCounter(*engine_, kRevisionCeilingKey);
    origin_seq = ReadCounter(*engine_, kOriginSeqCeilingKey);
    incarnation = ReadCounter(*engine_, kIncarnationKey);
    in_sync = engine_->Get(kLastInSyncKey);
  }
  if (!revision.ok()) return revision.status();
  if (!origin_seq.ok()) return origin_seq.status();
  if (!incarnation.ok()) return incarnation.status();
  if (!in_sync.ok()) return in_sync.status();
  if (in_sync->has_value()) {
    int64_t ms = 0;
    if (!absl::SimpleAtoi(**in_sync, &ms)) {
      return absl::DataLossError(absl::StrCat("stored last-in-sync time is not a number: \"",
                                              **in_sync, "\""));
    }
    absl::MutexLock stats_lock(&stats_mu_);
    last_in_sync_ms_ = ms;
  }
  revision_base_ = *revision;
  origin_seq_base_ = *origin_seq;
  incarnation_ = *incarnation + 1;
  {
    absl::MutexLock ceiling_lock(&ceiling_mu_);
    revision_ceiling_ = *revision;
    origin_seq_ceiling_ = *origin_seq;
  }
  return WriteSynced({{kIncarnationKey, absl::StrCat(incarnation_)}});
}

absl::Status DataDir::Load(const std::function<absl::Status(const wire::Record&)>& fn) {
  const absl::Time start = absl::Now();
  uint64_t loaded = 0;
  wire::Record record;
  absl::Status s;
  {
    absl::ReaderMutexLock lock(&engine_mu_);
    s = engine_->Scan(kRecordPrefix, [&](absl::string_view key, absl::string_view value) {
      if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        return absl::DataLossError(absl::StrCat("stored record of key \"",
                                                absl::CEscape(key.substr(1)),
                                                "\" does not parse"));
      }
      if (record.key() != key.substr(1)) {
        return absl::DataLossError(absl::StrCat("stored record of key \"",
                                                absl::CEscape(key.substr(1)),
                                                "\" holds key \"", absl::CEscape(record.key()),
                                                "\""));
      }
      ++loaded;
      return fn(record);
    });
  }
  absl::MutexLock lock(&stats_mu_);
  stats_.load_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  stats_.records_loaded = loaded;
  return s;
}

absl::StatusOr<EngineOp> DataDir::EncodeRecord(const wire::Record& record) {
  // The empty key holds the lease releases (record.proto) and nothing else.
  if (record.key().empty() && record.kind() != wire::Record::LEASE_RELEASE) {
    return absl::InvalidArgumentError("a record without a key");
  }
  return EngineOp{RecordKey(record.key()), record.SerializeAsString()};
}

EngineOp DataDir::EncodeForget(absl::string_view key) { return {RecordKey(key), std::nullopt}; }

absl::StatusOr<DataDir::Token> DataDir::Append(absl::Span<const wire::Record> records) {
  std::vector<EngineOp> ops;
  ops.reserve(records.size());
  for (const wire::Record& r : records) {
    absl::StatusOr<EngineOp> op = EncodeRecord(r);
    if (!op.ok()) return op.status();
    ops.push_back(*std::move(op));
  }
  return AppendEncoded(ops);
}

absl::StatusOr<DataDir::Token> DataDir::Forget(absl::Span<const std::string> keys) {
  std::vector<EngineOp> ops;
  ops.reserve(keys.size());
  for (const std::string& k : keys) ops.push_back(EncodeForget(k));
  return AppendEncoded(ops);
}

absl::StatusOr<DataDir::Token> DataDir::AppendEncoded(const std::vector<EngineOp>& ops) {
  uint64_t records = 0;
  for (const EngineOp& op : ops) records += op.value.has_value() ? 1 : 0;
  absl::StatusOr<Token> t = WriteLogged(ops, records);
  if (t.ok() && records < ops.size()) {
    absl::MutexLock lock(&stats_mu_);
    stats_.records_forgotten += ops.size() - records;
  }
  return t;
}

absl::StatusOr<DataDir::Token> DataDir::WriteLogged(const std::vector<EngineOp>& ops,
                                                    uint64_t records) {
  absl::MutexLock lock(&append_mu_);
  if (needs_resume_.load(std::memory_order_acquire)) {
    absl::Status resumed;
    {
      absl::MutexLock engine_lock(&engine_mu_);
      resumed = engine_->Resume();
    }
    if (!resumed.ok()) {
      CountError(resumed);
      return resumed;
    }
    needs_resume_.store(false, std::memory_order_release);
  }
  absl::Status s;
  {
    absl::ReaderMutexLock engine_lock(&engine_mu_);
    s = engine_->Write(ops);
  }
  if (!s.ok()) {
    needs_resume_.store(true, std::memory_order_release);
    CountError(s);
    return s;
  }
  const Token token = appended_.load(std::memory_order_relaxed) + 1;
  appended_.store(token, std::memory_order_release);
  absl::MutexLock stats_lock(&stats_mu_);
  ++stats_.appends;
  stats_.records_appended += records;
  return token;
}

absl::Status DataDir::WaitDurable(Token token) {
  if (token > appended_.load(std::memory_order_acquire)) {
    return absl::InvalidArgumentError(absl::StrCat("token ", token, " was never appended"));
  }
  if (options_.fsync != FsyncMode::kAlways) return absl::OkStatus();
  return SyncThrough(token);
}

absl::Status DataDir::SyncThrough(Token token) {
  absl::MutexLock lock(&sync_mu_);
  while (durable_ < token) {
    if (syncing_) {
      sync_done_.Wait(&sync_mu_);
      continue;
    }
    // Lead: one fsync covers every append made before it starts.
    syncing_ = true;
    const Token target = appended_.load(std::memory_order_acquire);
    sync_mu_.Unlock();
    absl::Status s = TimedSync();
    sync_mu_.Lock();
    syncing_ = false;
    if (s.ok()) durable_ = std::max(durable_, target);
    sync_done_.SignalAll();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status DataDir::TimedSync() {
  const absl::Time start = absl::Now();
  absl::Status s;
  {
    absl::ReaderMutexLock lock(&engine_mu_);
    s = engine_->SyncLog();
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!s.ok()) {
    needs_resume_.store(true, std::memory_order_release);
    CountError(s);
    return s;
  }
  absl::MutexLock lock(&stats_mu_);
  ++stats_.fsyncs;
  stats_.fsync_seconds_sum += seconds;
  const auto& bounds = stats_.fsync_bucket_bounds_seconds;
  const size_t bucket =
      std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();
  ++stats_.fsync_bucket_counts[bucket];
  return absl::OkStatus();
}

void DataDir::IntervalLoop() {
  absl::MutexLock lock(&sync_mu_);
  while (!stopping_) {
    sync_done_.WaitWithTimeout(&sync_mu_, options_.fsync_interval);
    if (stopping_) break;
    const Token target = appended_.load(std::memory_order_acquire);
    if (target <= durable_ || syncing_) continue;
    sync_mu_.Unlock();
    // Errors are counted (write_errors); the next tick tries again.
    SyncThrough(target).IgnoreError();
    sync_mu_.Lock();
  }
}

absl::Status DataDir::WriteSynced(const std::vector<EngineOp>& ops) {
  absl::StatusOr<Token> t = WriteLogged(ops, 0);
  if (!t.ok()) return t.status();
  return SyncThrough(*t);
}

absl::Status DataDir::Reserve(absl::string_view key, uint64_t through, uint64_t* ceiling) {
  if (through < *ceiling) return absl::OkStatus();
  const uint64_t next = through + std::max<uint64_t>(options_.ceiling_step, 1);
  MESHKV_RETURN_IF_ERROR(WriteSynced({{std::string(key), absl::StrCat(next)}}));
  *ceiling = next;
  return absl::OkStatus();
}

absl::Status DataDir::ReserveRevisions(uint64_t through) {
  absl::MutexLock lock(&ceiling_mu_);
  return Reserve(kRevisionCeilingKey, through, &revision_ceiling_);
}

absl::Status DataDir::ReserveOriginSeqs(uint64_t through) {
  absl::MutexLock lock(&ceiling_mu_);
  return Reserve(kOriginSeqCeilingKey, through, &origin_seq_ceiling_);
}

absl::Status DataDir::MarkInSync(int64_t wall_ms) {
  MESHKV_RETURN_IF_ERROR(WriteSynced({{kLastInSyncKey, absl::StrCat(wall_ms)}}));
  absl::MutexLock lock(&stats_mu_);
  last_in_sync_ms_ = wall_ms;
  return absl::OkStatus();
}

std::optional<int64_t> DataDir::last_in_sync_ms() const {
  absl::MutexLock lock(&stats_mu_);
  return last_in_sync_ms_;
}

void DataDir::CountError(const absl::Status& s) {
  (void)s;
  absl::MutexLock lock(&stats_mu_);
  ++stats_.write_errors;
}

DataDirStats DataDir::Stats() const {
  int64_t bytes = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const auto size = it->file_size(size_ec);
      if (!size_ec) bytes += static_cast<int64_t>(size);
    }
  }
  absl::MutexLock lock(&stats_mu_);
  DataDirStats out = stats_;
  out.disk_bytes = bytes;
  out.open_seconds = open_seconds_;
  return out;
}

}  // namespace meshkv::storage
